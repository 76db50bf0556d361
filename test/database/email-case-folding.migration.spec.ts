import { Logger } from '@nestjs/common';
import { TableNames } from '../../src/database/table-names';
import {
  EMAIL_COLLISION_ACTION,
  EmailCaseFolding1764900001000,
  lowerCaseCanonicalEmail,
} from '../../src/users/migrations/1764900001000-email-case-folding';
import { runMigrationStep, useMigrationDatabase } from '../support/migration-database';

// Issue item 9: the migration recomputes email_normalized of users written under the previous
// rule (NFKC + toLowerCase), and reports the users whose new forms collide.
describe('migration EmailCaseFolding1764900001000', () => {
  const migrationDb = useMigrationDatabase();

  // Users as the previous code stored them.
  // `stored` stands for a value the previous rule never wrote, to build chains and swaps.
  const seed: Record<string, { email: string; stored?: string; createdAt: string; deleted?: boolean; anonymized?: boolean }> = {
    sigmaOld: { email: 'XΑΣ@EXAMPLE.GR', createdAt: '2020-01-01T00:00:00Z' },
    sigmaHolder: { email: 'xασ@example.gr', createdAt: '2021-01-01T00:00:00Z' },
    idnOld: { email: 'idn@bücher.example', createdAt: '2020-01-01T00:00:00Z' },
    idnHolder: { email: 'IDN@xn--bcher-kva.example', createdAt: '2021-01-01T00:00:00Z' },
    bothMoveOlder: { email: 'straße@bücher.example', createdAt: '2019-01-01T00:00:00Z' },
    bothMoveNewer: { email: 'strasse@bücher.example', createdAt: '2019-06-01T00:00:00Z' },
    moves: { email: 'ΑΣ@Example.GR', createdAt: '2022-01-01T00:00:00Z' },
    plain: { email: 'Plain@Example.com', createdAt: '2022-01-01T00:00:00Z' },
    deleted: { email: 'XΑΣ@example.gr', createdAt: '2018-01-01T00:00:00Z', deleted: true },
    anonymized: { email: 'ANON-Σ@anonymized.invalid', createdAt: '2018-01-01T00:00:00Z', deleted: true, anonymized: true },
    // Two users that swap values: a single UPDATE would meet the unique index half-way.
    swapA: { email: 'swap-a@example.com', stored: 'swap-b@example.com', createdAt: '2023-01-01T00:00:00Z' },
    swapB: { email: 'swap-b@example.com', stored: 'swap-a@example.com', createdAt: '2023-01-01T00:00:00Z' },
    // chainLoser loses its new value to chainWinner and keeps its previous one, which chainNext
    // wanted: chainNext keeps its own previous value too.
    chainWinner: { email: 'chain@bücher.example', stored: 'chain-winner-old', createdAt: '2017-01-01T00:00:00Z' },
    chainLoser: { email: 'CHAIN@BÜCHER.EXAMPLE', stored: 'next@example.com', createdAt: '2017-06-01T00:00:00Z' },
    chainNext: { email: 'Next@Example.com', stored: 'chain-next-old', createdAt: '2016-01-01T00:00:00Z' },
  };

  async function normalized(): Promise<Record<string, string>> {
    const rows: { id: string; email_normalized: string }[] = await migrationDb.dataSource.query(`SELECT id, email_normalized FROM users`);
    const byId = new Map(rows.map((r) => [r.id, r.email_normalized]));
    return Object.fromEntries(Object.entries(ids).map(([name, id]) => [name, byId.get(id) ?? '']));
  }

  const run = (direction: 'up' | 'down') => runMigrationStep(migrationDb.dataSource, new EmailCaseFolding1764900001000(new TableNames()), direction);

  const ids: Record<string, string> = {};

  it('recomputes every form, keeps one user per canonical email, and reports the others', async () => {
    for (const [name, u] of Object.entries(seed)) {
      const [row]: { id: string }[] = await migrationDb.dataSource.query(
        `INSERT INTO users (email, email_normalized, hashed_password, created_at, deleted_at, is_deleted, anonymized_at)
         VALUES ($1, $2, '!', $3, $4, $5, $6) RETURNING id`,
        [u.email, u.stored ?? lowerCaseCanonicalEmail(u.email), u.createdAt, u.deleted ? u.createdAt : null, u.deleted === true, u.anonymized ? u.createdAt : null],
      );
      ids[name] = row.id;
    }
    const before = await normalized();
    const warnings: string[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation((message: unknown) => void warnings.push(String(message)));
    try {
      await run('up');
    } finally {
      warn.mockRestore();
    }

    expect(await normalized()).toEqual({
      // The user that already held the new form keeps it; the other keeps its previous value.
      sigmaOld: before.sigmaOld,
      sigmaHolder: 'xασ@example.gr',
      idnOld: before.idnOld,
      idnHolder: 'idn@xn--bcher-kva.example',
      // Neither held it: the older user takes it.
      bothMoveOlder: 'strasse@xn--bcher-kva.example',
      bothMoveNewer: before.bothMoveNewer,
      moves: 'ασ@example.gr',
      plain: 'plain@example.com',
      // Soft-deleted users are recomputed too (they do not take part in uniqueness), anonymized
      // ones keep their placeholder.
      deleted: 'xασ@example.gr',
      anonymized: before.anonymized,
      swapA: 'swap-a@example.com',
      swapB: 'swap-b@example.com',
      chainWinner: 'chain@xn--bcher-kva.example',
      chainLoser: 'next@example.com',
      chainNext: 'chain-next-old',
    });
    expect(before.sigmaOld).toBe('xας@example.gr');

    const pairs = [
      [ids.sigmaHolder, ids.sigmaOld],
      [ids.idnHolder, ids.idnOld],
      [ids.bothMoveOlder, ids.bothMoveNewer],
      [ids.chainWinner, ids.chainLoser],
      [ids.chainLoser, ids.chainNext],
    ];
    const audit: { user_id: string; details: { targetIds: string[]; outcome: string } }[] = await migrationDb.dataSource.query(
      `SELECT user_id, details FROM audit_log WHERE action = $1 ORDER BY id`,
      [EMAIL_COLLISION_ACTION],
    );
    expect(audit).toHaveLength(pairs.length * 2);
    for (const [kept, other] of pairs) {
      for (const userId of [kept, other]) {
        expect(audit).toContainEqual({ user_id: userId, details: expect.objectContaining({ outcome: 'collision', targetIds: [kept, other] }) });
      }
      expect(warnings).toContainEqual(expect.stringMatching(new RegExp(`user ${other} keeps its previous canonical email, which user ${kept} now holds`)));
    }
    expect(warnings).toHaveLength(pairs.length);
    // The audit rows name users, never their addresses.
    expect(JSON.stringify(audit)).not.toContain('@');
  });

  it('down() restores the previous forms', async () => {
    await run('down');
    const restored = await normalized();
    for (const name of ['sigmaOld', 'sigmaHolder', 'idnOld', 'idnHolder', 'bothMoveOlder', 'bothMoveNewer', 'moves', 'plain', 'deleted', 'swapA', 'swapB']) {
      expect([name, restored[name]]).toEqual([name, lowerCaseCanonicalEmail(seed[name].email)]);
    }
  });
});
