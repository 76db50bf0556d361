import { TableNames } from '../../src/database/table-names';
import { SearchText1765300000000 } from '../../src/users/migrations/1765300000000-search-text';
import { runMigrationStep, useMigrationDatabase } from '../support/migration-database';

// search_text must hold, for users written before the migration and for every later write, what
// the searches match: the email and the name, each lower-cased by PostgreSQL after a line feed.
describe('migration SearchText1765300000000', () => {
  const migrationDb = useMigrationDatabase();

  const run = (direction: 'up' | 'down') => runMigrationStep(migrationDb.dataSource, new SearchText1765300000000(new TableNames()), direction);

  const searchText = async (id: string) => (await migrationDb.dataSource.query<{ search_text: string }[]>(`SELECT search_text FROM users WHERE id = $1`, [id]))[0].search_text;
  const insert = async (email: string, fullName: string | null) =>
    (
      await migrationDb.dataSource.query<{ id: string }[]>(`INSERT INTO users (email, email_normalized, full_name, hashed_password) VALUES ($1, lower($1), $2, '!') RETURNING id`, [
        email,
        fullName,
      ])
    )[0].id;

  it('fills the column for existing users, and the trigger keeps it for every insert and update', async () => {
    await run('down');
    const before = await insert('Older.User@Example.COM', 'Straße ÜNÏ');
    const unnamed = await insert('NoName@Example.com', null);
    await run('up');
    await expect(searchText(before)).resolves.toBe('\nolder.user@example.com\nstraße ünï');
    await expect(searchText(unnamed)).resolves.toBe('\nnoname@example.com\n');

    const after = await insert('New@Example.com', 'Anna LI');
    await expect(searchText(after)).resolves.toBe('\nnew@example.com\nanna li');
    await migrationDb.dataSource.query(`UPDATE users SET full_name = 'Renamed Person' WHERE id = $1`, [after]);
    await expect(searchText(after)).resolves.toBe('\nnew@example.com\nrenamed person');
    await migrationDb.dataSource.query(`UPDATE users SET email = 'Moved@Example.com', full_name = NULL WHERE id = $1`, [after]);
    await expect(searchText(after)).resolves.toBe('\nmoved@example.com\n');
    // A direct write is overwritten: the column only ever says what the row holds.
    await migrationDb.dataSource.query(`UPDATE users SET search_text = 'forged' WHERE id = $1`, [after]);
    await expect(searchText(after)).resolves.toBe('\nmoved@example.com\n');
  });

  it('goes down to the two trigram indexes and up again', async () => {
    const indexes = async () =>
      (
        await migrationDb.dataSource.query<{ indexname: string }[]>(
          `SELECT indexname FROM pg_indexes WHERE tablename = 'users' AND (indexname LIKE '%trgm' OR indexname = 'IDX_users_live_search') ORDER BY 1`,
        )
      ).map((r) => r.indexname);
    await run('down');
    await expect(indexes()).resolves.toEqual(['IDX_users_email_trgm', 'IDX_users_full_name_trgm']);
    await run('up');
    await expect(indexes()).resolves.toEqual(['IDX_users_live_search', 'IDX_users_search_trgm']);
  });
});
