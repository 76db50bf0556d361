import { usersMigrations } from './users-migrations';

describe('usersMigrations', () => {
  const names = (naming = {}) => usersMigrations(naming).map((M) => new M().name);

  it('keeps, for the default naming, the names already recorded in this app\'s migrations tables', () => {
    expect(names()).toEqual(['InitialSchema1764300000000', 'TokenEpoch1764900000000', 'EmailCaseFolding1764900001000', 'SearchText1765300000000', 'Outbox1765400000000', 'Webhooks1765500000000', 'Dormancy1765600000000']);
  });

  it('names the migrations of each naming apart, so that one host can list several', () => {
    const all = [{}, { tablePrefix: 'app_' }, { schema: 'identity' }, { schema: 'identity', tablePrefix: 'app_' }, { schema: 'app_' }].flatMap(names);
    expect(new Set(all).size).toBe(all.length);
    expect(all).toContain('EmailCaseFolding[identity.app_]1764900001000');
    for (const name of all) expect(name).toMatch(/\D\d{13}$/);
  });

  it('refuses a bad naming when the list is built, not when a migration runs', () => {
    expect(() => usersMigrations({ tablePrefix: 'App' })).toThrow(/^tablePrefix must be empty or a lower-case SQL identifier/);
  });
});
