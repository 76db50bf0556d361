import { MAX_TABLE_PREFIX_LENGTH, TableNames } from './table-names';

describe('TableNames', () => {
  it('gives exactly the names the module always had by default', () => {
    const t = new TableNames();
    expect([t.users, t.files, t.auditLog, t.migrations]).toEqual(['"users"', '"files"', '"audit_log"', '"users_migrations"']);
    expect(t.objectName('UQ_users_email_normalized_live')).toBe('UQ_users_email_normalized_live');
    expect(t.statement('users_live_auth_by_id')).toBe('users_live_auth_by_id');
    expect(t.migrationName('InitialSchema1764300000000')).toBe('InitialSchema1764300000000');
  });

  it('puts the prefix after the kind tag, or in front, and the schema before tables and functions', () => {
    const t = new TableNames({ schema: 'identity', tablePrefix: 'app_' });
    expect([t.users, t.files, t.auditLog, t.migrations]).toEqual([
      '"identity"."app_users"',
      '"identity"."app_files"',
      '"identity"."app_audit_log"',
      '"identity"."app_users_migrations"',
    ]);
    expect(t.objectName('UQ_users_email_normalized_live')).toBe('UQ_app_users_email_normalized_live');
    expect(t.object('TRG_users_rotate_token_epoch')).toBe('"TRG_app_users_rotate_token_epoch"');
    expect(t.qualified('users_rotate_token_epoch')).toBe('"identity"."app_users_rotate_token_epoch"');
    expect(t.statement('users_live_auth_by_id')).toBe('identity.app_users_live_auth_by_id');
  });

  it('names a migration after its naming, before the timestamp TypeORM reads last', () => {
    expect(new TableNames({ tablePrefix: 'app_' }).migrationName('InitialSchema1764300000000')).toBe('InitialSchema[app_]1764300000000');
    expect(new TableNames({ schema: 'identity' }).migrationName('InitialSchema1764300000000')).toBe('InitialSchema[identity.]1764300000000');
    expect(new TableNames({ schema: 'identity', tablePrefix: 'app_' }).migrationName('TokenEpoch1764900000000')).toBe('TokenEpoch[identity.app_]1764900000000');
    expect(() => new TableNames().migrationName('InitialSchema')).toThrow(/must end with a 13-digit timestamp/);
  });

  it('accepts the longest prefix whose derived names fit 63 bytes', () => {
    const t = new TableNames({ tablePrefix: 'p'.repeat(MAX_TABLE_PREFIX_LENGTH) });
    expect(t.objectName('IDX_users_live_active_created_at_id')).toHaveLength(63);
    expect(() => t.objectName('IDX_users_live_active_created_at_id_x')).toThrow(/longer than PostgreSQL's 63 bytes/);
  });

  it.each([
    [{ tablePrefix: 'App_' }, /^tablePrefix must be empty or a lower-case SQL identifier/],
    [{ tablePrefix: 'app-' }, /^tablePrefix must be empty or a lower-case SQL identifier/],
    [{ tablePrefix: '1app' }, /^tablePrefix must be empty or a lower-case SQL identifier/],
    [{ tablePrefix: 'users"; drop table users; --' }, /^tablePrefix must be empty or a lower-case SQL identifier/],
    [{ tablePrefix: 'p'.repeat(MAX_TABLE_PREFIX_LENGTH + 1) }, /^tablePrefix must be at most 28 characters/],
    [{ schema: '' }, /^schema must be a lower-case SQL identifier/],
    [{ schema: 'Identity' }, /^schema must be a lower-case SQL identifier/],
    [{ schema: 's'.repeat(64) }, /^schema must be a lower-case SQL identifier .* of at most 63 characters/],
    [{ schema: 'pg_users' }, /^schema must not start with "pg_"/],
  ])('refuses %j with an error naming the option', (naming, message) => {
    expect(() => new TableNames(naming)).toThrow(message);
  });
});
