import { migrationNames, registerMigration, renderMigration } from './migration-generator';

describe('migration generator', () => {
  it('makes one class and file name of every spelling', () => {
    for (const name of ['add-locale', 'add_locale', 'addLocale', 'AddLocale', 'add locale']) {
      expect(migrationNames(name, 1796000000000)).toEqual({ className: 'AddLocale1796000000000', fileName: '1796000000000-add-locale.ts' });
    }
    expect(() => migrationNames('2fa', 1796000000000)).toThrow('migration name "2fa" must start with a letter (for example add-locale)');
  });

  it('keeps the SQL literal inside the template string and names tables through TableNames', () => {
    const { source } = renderMigration('add-note', 1796000000000, ['ALTER TABLE "audit_log" ADD "note" text DEFAULT \'`${x}\\\''], []);
    expect(source).toContain('await db.query(`ALTER TABLE ${t.auditLog} ADD "note" text DEFAULT \'\\`\\${x}\\\\\'`);');
  });

  it('says when it cannot find where to register', () => {
    expect(() => registerMigration('const OTHER = [];\n', 'AddLocale1796000000000', '1796000000000-add-locale.ts')).toThrow('add AddLocale1796000000000 by hand');
  });
});
