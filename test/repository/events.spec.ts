import { hashPassword } from '../../src/users/password';
import type { UserEvent } from '../../src/users/events/user-event';
import { UsersEvents } from '../../src/users/events/users-events.service';
import { UsersRepository } from '../../src/users/users.repository';
import { EventDeliveries, type EventDelivery } from '../../src/users/events/event-deliveries.service';
import type { TestingModule } from '@nestjs/testing';
import { Client } from 'pg';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';
import { createTestDatabase } from '../support/test-database';
import { until } from '../support/until';
import { captureSentStatements } from '../support/statement-capture';
import { OutboxRelay } from '../../src/users/events/outbox-relay';
import { createUser, explain, factoryPasswordHash, uniqueEmail } from '../support/user-factory';

interface OutboxRow {
  seq: string;
  id: string;
  type: string;
  user_id: string;
  actor_id: string | null;
  request_id: string | null;
  version: number;
  changed_fields: string[];
}

// The outbox as written by the writes (no relay runs in this context: relay: false).
describe('user lifecycle events: the transactional outbox', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({}, { settings: { events: { relay: false } } });
  });
  afterAll(() => ctx.close());

  const eventsOf = (userId: string) =>
    ctx.sql<OutboxRow>(`SELECT seq::text, id::text, type, user_id::text, actor_id::text, request_id, version, changed_fields FROM outbox o WHERE o.user_id = $1 ORDER BY o.seq`, [userId]);
  const typesOf = async (userId: string) => (await eventsOf(userId)).map((e) => [e.type, e.changed_fields, e.version]);

  it('writes one event per change, in the order of the changes, with the fields written and the version after it', async () => {
    const hash = await factoryPasswordHash();
    const user = await ctx.users.createUserWithValidation(uniqueEmail('events'), 'a long enough password 1');
    await ctx.users.partialUpdateUser(user.id, { fullName: 'Ada', metadata: { plan: 'pro' } });
    await ctx.users.deactivateUser(user.id);
    await ctx.users.deactivateUser(user.id); // no change: no event
    await ctx.users.reactivateUser(user.id);
    await ctx.users.assignRoleToUser(user.id, 'editor');
    await ctx.users.assignRoleToUser(user.id, 'editor'); // no change
    await ctx.users.revokeRoleFromUser(user.id, 'editor');
    await ctx.users.changeUserPassword(user.id, hash);
    await ctx.users.updateLastLogin(user.id);
    await ctx.users.endUserSessions(user.id);
    await ctx.users.softDeleteUser(user.id);
    await ctx.users.restoreUser(user.id);
    await ctx.users.bulkUpdateUsers([user.id], { isActive: false });
    await ctx.users.bulkDeleteUsers([user.id]);
    expect(await typesOf(user.id)).toEqual([
      ['user.created', [], 1],
      ['user.updated', ['fullName', 'metadata'], 2],
      ['user.deactivated', ['isActive'], 3],
      ['user.reactivated', ['isActive'], 4],
      ['user.role_assigned', ['roles'], 5],
      ['user.role_revoked', ['roles'], 6],
      ['user.password_changed', ['password'], 7],
      ['user.logged_in', ['lastLoginAt'], 7],
      ['user.sessions_ended', [], 7],
      ['user.deleted', ['deletedAt', 'isDeleted'], 8],
      ['user.restored', ['deletedAt', 'isDeleted'], 9],
      ['user.updated', ['isActive'], 10],
      ['user.hard_deleted', [], 10],
    ]);
    const ids = (await eventsOf(user.id)).map((e) => e.id);
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('tells an upsert that created from one that changed, and writes nothing for one that changed nothing', async () => {
    const email = uniqueEmail('upsert');
    const created = await ctx.users.upsertUser(email);
    await ctx.users.upsertUser(email);
    await ctx.users.upsertUser(email, { fullName: 'Grace', roles: ['user', 'editor'] });
    expect(await typesOf(created.id)).toEqual([
      ['user.created', [], 1],
      ['user.updated', ['fullName', 'roles'], 2],
    ]);
  });

  it('writes an event per user of a bulk create and of an import, created or updated', async () => {
    const hash = await factoryPasswordHash();
    const bulk = await ctx.users.bulkCreateUsers([
      { email: uniqueEmail('bulk'), hashedPassword: hash },
      { email: uniqueEmail('bulk'), hashedPassword: hash },
    ]);
    for (const user of bulk) expect(await typesOf(user.id)).toEqual([['user.created', [], 1]]);

    const existing = await createUser(ctx.users);
    const [updated, added] = await ctx.users.importUsersFromDicts(
      [
        { email: existing.email, fullName: 'Imported', hashedPassword: await hashPassword('another long password 2') },
        { email: uniqueEmail('import'), fullName: 'New' },
      ],
      { onConflict: 'update' },
    );
    expect(await typesOf(updated.id)).toEqual([
      ['user.created', [], 1],
      ['user.updated', ['fullName', 'isActive', 'roles', 'metadata', 'password'], 2],
    ]);
    expect(await typesOf(added.id)).toEqual([['user.created', [], 1]]);

    // 'skip' keeps the existing user: no event for it.
    const skipped = await ctx.users.importUsersFromDicts([{ email: existing.email, fullName: 'Skipped' }], { onConflict: 'skip' });
    expect(skipped).toEqual([]);
    expect(await eventsOf(existing.id)).toHaveLength(2);
  });

  it('writes no event for a change that rolls back, and the events of a dbTransaction caller only once it commits', async () => {
    const user = await createUser(ctx.users);
    await expect(
      ctx.users.dbTransaction(async () => {
        await ctx.users.partialUpdateUser(user.id, { fullName: 'Rolled back' });
        await ctx.users.createUserWithValidation(uniqueEmail('rolled-back'), 'a long enough password 3');
        throw new Error('the caller gives up');
      }),
    ).rejects.toThrow('the caller gives up');
    expect(await typesOf(user.id)).toEqual([['user.created', [], 1]]);
    await expect(ctx.sql(`SELECT 1 FROM outbox o WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = o.user_id) AND o.type = 'user.created' AND o.occurred_at > now() - interval '1 minute' AND o.user_id NOT IN (SELECT user_id FROM outbox WHERE type = 'user.hard_deleted')`)).resolves.toEqual([]);

    let seenInside: unknown[] = ['not run'];
    await ctx.users.dbTransaction(async () => {
      await ctx.users.partialUpdateUser(user.id, { fullName: 'Committed' });
      await ctx.users.assignRoleToUser(user.id, 'editor');
      // Another connection sees no event until the commit.
      seenInside = await ctx.sql(`SELECT 1 FROM outbox WHERE user_id = $1 AND type <> 'user.created'`, [user.id]);
    });
    expect(seenInside).toEqual([]);
    expect(await typesOf(user.id)).toEqual([
      ['user.created', [], 1],
      ['user.updated', ['fullName'], 2],
      ['user.role_assigned', ['roles'], 3],
    ]);
  });

  it('keeps no personal data in the outbox, before or after an anonymization', async () => {
    const email = uniqueEmail('private-person');
    const user = await ctx.users.createUserWithValidation(email, 'a long enough password 4', { fullName: 'Private Person Name' });
    await ctx.users.partialUpdateUser(user.id, { fullName: 'Another Private Name', email: uniqueEmail('private-moved') });
    await ctx.users.anonymizeUser(user.id);
    await ctx.users.anonymizeUser(user.id); // idempotent: no second event
    const events = await eventsOf(user.id);
    expect(events.map((e) => e.type)).toEqual(['user.created', 'user.updated', 'user.anonymized']);
    expect(events[2].changed_fields).toEqual(expect.arrayContaining(['email', 'fullName', 'metadata', 'password']));
    const stored = JSON.stringify(await ctx.sql(`SELECT o.*, d.* FROM outbox o LEFT JOIN outbox_deliveries d ON d.event_seq = o.seq WHERE o.user_id = $1`, [user.id])).toLowerCase();
    for (const secret of [email.split('@')[0], 'private person name', 'another private name', 'private-moved', '$argon2']) expect(stored).not.toContain(secret);
  });

  it('writes no events when they are turned off', async () => {
    const off = await createRepositoryContext({}, { database: ctx.database, keepDatabase: true, settings: { events: { enabled: false } } });
    try {
      const user = await createUser(off.users);
      await off.users.partialUpdateUser(user.id, { fullName: 'Quiet' });
      expect(await eventsOf(user.id)).toEqual([]);
    } finally {
      await off.close();
    }
  });
});

// Delivery to in-process subscribers by the relay.
describe('user lifecycle events: delivery to subscribers', () => {
  let ctx: RepositoryContext;
  const fast = { pollIntervalMs: 50, backoffMs: 20, maxBackoffMs: 100, maxAttempts: 3, leaseMs: 5000, handlerTimeoutMs: 1000 };

  beforeAll(async () => {
    ctx = await createRepositoryContext({}, { settings: { events: fast } });
  });
  afterAll(() => ctx.close());

  it('delivers each committed event after the commit, in commit order per user, and records the delivery', async () => {
    const seen: UserEvent[] = [];
    const events = ctx.module.get(UsersEvents);
    const off = events.on('*', (event) => void seen.push(event), { name: 'order-test' });
    try {
      const user = await createUser(ctx.users);
      await ctx.users.partialUpdateUser(user.id, { fullName: 'One' });
      await ctx.users.partialUpdateUser(user.id, { fullName: 'Two' });
      await ctx.users.deactivateUser(user.id);
      const mine = await until(
        () => seen.filter((e) => e.userId === user.id),
        (list) => list.length >= 4,
      );
      expect(mine.map((e) => [e.type, e.version])).toEqual([
        ['user.created', 1],
        ['user.updated', 2],
        ['user.updated', 3],
        ['user.deactivated', 4],
      ]);
      expect(mine[0]).toEqual({
        id: expect.stringMatching(/^[0-9a-f-]{36}$/),
        type: 'user.created',
        userId: user.id,
        occurredAt: expect.any(Date),
        actorId: null,
        requestId: null,
        version: 1,
        changedFields: [],
        sequence: expect.stringMatching(/^\d+$/),
      });
      const rows = await until(
        () => ctx.sql<{ status: string; attempts: number }>(`SELECT d.status, d.attempts FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE o.user_id = $1 AND d.destination = 'subscriber:order-test'`, [user.id]),
        (r) => r.length === 4 && r.every((d) => d.status === 'delivered'),
      );
      expect(rows).toEqual(Array(4).fill({ status: 'delivered', attempts: 1 }));
    } finally {
      off();
    }
  });

  it('retries a failing subscriber with backoff, holds back the user\'s later events meanwhile, and dead-letters after the last attempt', async () => {
    const calls: { type: string; at: number }[] = [];
    const events = ctx.module.get(UsersEvents);
    let failuresLeft = 2;
    const off = events.on(
      ['user.updated', 'user.deactivated'],
      (event) => {
        calls.push({ type: `${event.type}:${event.version}`, at: Date.now() });
        if (event.type === 'user.updated' && failuresLeft-- > 0) throw new Error('the mail server is down');
      },
      { name: 'retry-test' },
    );
    const alwaysFails = events.on('user.updated', () => Promise.reject(new Error('never works')), { name: 'dead-test' });
    try {
      const user = await createUser(ctx.users);
      await ctx.users.partialUpdateUser(user.id, { fullName: 'Retried' });
      await ctx.users.deactivateUser(user.id);
      await until(
        () => calls.length,
        (n) => n >= 4,
      );
      // Two failures, then success; the deactivation waited for the update.
      expect(calls.map((c) => c.type)).toEqual(['user.updated:2', 'user.updated:2', 'user.updated:2', 'user.deactivated:3']);
      expect(calls[1].at - calls[0].at).toBeGreaterThanOrEqual(15);

      const dead = await until(
        () => ctx.sql<{ status: string; attempts: number; last_error: string }>(
          `SELECT d.status, d.attempts, d.last_error FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE o.user_id = $1 AND d.destination = 'subscriber:dead-test'`,
          [user.id],
        ),
        (r) => r[0]?.status === 'dead',
      );
      expect(dead).toEqual([{ status: 'dead', attempts: 3, last_error: 'never works' }]);
      const retried = await until(
        () =>
          ctx.sql<{ status: string; attempts: number }>(
            `SELECT d.status, d.attempts FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE o.user_id = $1 AND d.destination = 'subscriber:retry-test' ORDER BY o.seq`,
            [user.id],
          ),
        (r) => r.length === 2 && r.every((d) => d.status === 'delivered'),
      );
      expect(retried).toEqual([
        { status: 'delivered', attempts: 3 },
        { status: 'delivered', attempts: 1 },
      ]);
    } finally {
      off();
      alwaysFails();
    }
  });

  it('delivers events committed while no relay ran (a crash after the commit) once an instance starts', async () => {
    const database = await createTestDatabase();
    const writer = await createRepositoryContext({}, { database, keepDatabase: true, settings: { events: { relay: false } } });
    let userId: string;
    try {
      const user = await createUser(writer.users);
      await writer.users.partialUpdateUser(user.id, { fullName: 'Written while down' });
      userId = user.id;
    } finally {
      await writer.close();
    }
    const seen: UserEvent[] = [];
    // Subscribed as a sibling module would, in its init: before the relay's first round.
    const restarted = await createRepositoryContext({}, {
      database,
      settings: { events: fast },
      beforeInit: (module) => module.get(UsersEvents).on('*', (event) => void seen.push(event), { name: 'after-restart' }),
    });
    try {
      const mine = await until(
        () => seen.filter((e) => e.userId === userId),
        (list) => list.length >= 2,
      );
      expect(mine.map((e) => e.type)).toEqual(['user.created', 'user.updated']);
    } finally {
      await restarted.close();
    }
  });
});

// Dead letters can be listed and replayed.
describe('user lifecycle events: inspection and replay', () => {
  let ctx: RepositoryContext;

  beforeAll(async () => {
    ctx = await createRepositoryContext({}, { settings: { events: { pollIntervalMs: 50, backoffMs: 10, maxBackoffMs: 20, maxAttempts: 2 } } });
  });
  afterAll(() => ctx.close());

  it('lists dead letters by destination and user, and delivers a replayed one', async () => {
    let healthy = false;
    const received: string[] = [];
    const off = ctx.module.get(UsersEvents).on(
      'user.created',
      (event) => {
        if (!healthy) throw new Error('downstream unavailable');
        received.push(event.id);
      },
      { name: 'replay-test' },
    );
    const deliveries = ctx.module.get(EventDeliveries);
    try {
      const user = await createUser(ctx.users);
      const deadline = Date.now() + 10_000;
      let dead: EventDelivery[] = [];
      while (dead.length === 0 && Date.now() < deadline) {
        dead = await deliveries.list({ destination: 'subscriber:replay-test', status: 'dead', userId: user.id });
        await new Promise((resolve) => setTimeout(resolve, 25));
      }
      expect(dead).toEqual([
        expect.objectContaining({ type: 'user.created', userId: user.id, status: 'dead', attempts: 2, lastError: 'downstream unavailable', nextAttemptAt: null, deliveredAt: null }),
      ]);
      await expect(deliveries.list({ status: 'lost' as never })).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });

      healthy = true;
      await expect(deliveries.replay(dead[0].eventId, 'subscriber:replay-test')).resolves.toBe(1);
      while (received.length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      expect(received).toEqual([dead[0].eventId]);
      // The handler has run; the relay records the outcome right after.
      const [after] = await until(
        () => deliveries.list({ destination: 'subscriber:replay-test', userId: user.id }),
        (list) => list[0]?.status === 'delivered',
      );
      expect(after).toMatchObject({ status: 'delivered', attempts: 1, deliveredAt: expect.any(Date) });
      // Nothing to replay twice while it is pending; a delivered one can be sent again.
      await expect(deliveries.replay(dead[0].eventId, 'subscriber:replay-test')).resolves.toBe(1);
    } finally {
      off();
    }
  });
});

// Several instances relay one outbox.
describe('user lifecycle events: two instances relaying one outbox', () => {
  it('deliver each event once, sharing the work', async () => {
    const database = await createTestDatabase();
    const settings = { events: { pollIntervalMs: 20, batchSize: 25 } };
    const seen: { instance: string; id: string }[] = [];
    const subscribe = (instance: string) => (module: TestingModule) =>
      module.get(UsersEvents).on(
        'user.created',
        async (event) => {
          seen.push({ instance, id: event.id });
          // Slow enough that the other instance claims batches meanwhile.
          await new Promise((resolve) => setTimeout(resolve, 2));
        },
        { name: 'shared' },
      );
    const a = await createRepositoryContext({}, { database, keepDatabase: true, settings, beforeInit: subscribe('a') });
    const b = await createRepositoryContext({}, { database, keepDatabase: true, settings, beforeInit: subscribe('b') });
    try {
      const hash = await factoryPasswordHash();
      const created = await a.users.bulkCreateUsers(Array.from({ length: 300 }, () => ({ email: uniqueEmail('shared'), hashedPassword: hash })));
      const deadline = Date.now() + 20_000;
      while (seen.length < created.length && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 25));
      await new Promise((resolve) => setTimeout(resolve, 200)); // a duplicate would arrive meanwhile
      const ids = seen.map((s) => s.id);
      expect(ids).toHaveLength(created.length);
      expect(new Set(ids).size).toBe(created.length);
      const [{ delivered }] = await a.sql<{ delivered: number }>(`SELECT count(*)::int AS delivered FROM outbox_deliveries WHERE destination = 'subscriber:shared' AND status = 'delivered' AND attempts = 1`);
      expect(delivered).toBe(created.length);
      expect(new Set(seen.map((s) => s.instance))).toEqual(new Set(['a', 'b']));
    } finally {
      await a.close();
      await b.close();
      await database.drop();
    }
  });
});

// A stored hash (no argon2 per user).
const HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$c29tZWhhc2hzb21laGFzaHNvbWVoYXNoc29tZWhhc2g';

// What the relay does when instances differ, run long, or destinations go away.
describe('user lifecycle events: routing across instances, leases, abandoned destinations, error texts', () => {
  const fast = { pollIntervalMs: 30, backoffMs: 20, maxBackoffMs: 50, maxAttempts: 3 };

  it('routes an event to the destinations another instance announced, even when a script without them routes it', async () => {
    const database = await createTestDatabase();
    const seen: string[] = [];
    const app = await createRepositoryContext({}, {
      database,
      keepDatabase: true,
      settings: { events: fast },
      beforeInit: (module) => module.get(UsersEvents).on('user.created', (event) => void seen.push(event.userId), { name: 'welcome' }),
    });
    // A script: relays too (the default), but has no subscriber of its own.
    const script = await createRepositoryContext({}, { database, keepDatabase: true, settings: { events: fast } });
    try {
      await until(() => app.sql(`SELECT 1 FROM outbox_destinations WHERE name = 'subscriber:welcome'`), (rows) => rows.length === 1);
      const created = await script.users.bulkCreateUsers(Array.from({ length: 20 }, () => ({ email: uniqueEmail('scripted'), hashedPassword: HASH })));
      const ids = created.map((u) => u.id);
      await until(() => seen.filter((id) => ids.includes(id)).length, (n) => n === ids.length);
      expect(seen.filter((id) => ids.includes(id)).sort()).toEqual([...ids].sort());
    } finally {
      await script.close();
      await app.close();
      await database.drop();
    }
  });

  it('starts no delivery its lease could not cover: the rest are released to the next round, each delivered once', async () => {
    const seen: string[] = [];
    const ctx = await createRepositoryContext({}, {
      // A claim may start deliveries for (leaseMs - handlerTimeoutMs) less min(1 s, half of that) = 650 ms: 30 of 40 ms each do not fit.
      settings: { events: { ...fast, leaseMs: 1600, handlerTimeoutMs: 300, batchSize: 50 } },
      beforeInit: (module) =>
        module.get(UsersEvents).on(
          'user.created',
          async (event) => {
            seen.push(event.id);
            await new Promise((resolve) => setTimeout(resolve, 40));
          },
          { name: 'slow' },
        ),
    });
    try {
      const created = await ctx.users.bulkCreateUsers(Array.from({ length: 30 }, () => ({ email: uniqueEmail('slow'), hashedPassword: HASH })));
      const rows = await until(
        () => ctx.sql<{ status: string; attempts: number }>(`SELECT status, attempts FROM outbox_deliveries WHERE destination = 'subscriber:slow'`),
        (r) => r.length === created.length && r.every((d) => d.status === 'delivered'),
        20_000,
      );
      expect(rows).toHaveLength(created.length);
      expect(rows.every((d) => d.status === 'delivered' && d.attempts === 1)).toBe(true);
      expect(new Set(seen).size).toBe(seen.length);
      expect(seen).toHaveLength(created.length);
    } finally {
      await ctx.close();
    }
  });

  it('dead-letters the pending deliveries of a destination no instance announces any more', async () => {
    const database = await createTestDatabase();
    const first = await createRepositoryContext({}, {
      database,
      keepDatabase: true,
      settings: { events: fast },
      beforeInit: (module) => module.get(UsersEvents).on('user.created', () => Promise.reject(new Error('down')), { name: 'renamed-later' }),
    });
    let userId: string;
    try {
      userId = (await createUser(first.users)).id;
      await until(() => first.sql(`SELECT 1 FROM outbox_deliveries WHERE destination = 'subscriber:renamed-later' AND attempts >= 1`), (r) => r.length === 1);
    } finally {
      await first.close();
    }
    // A day later, no instance has it any more.
    const client = new Client({ connectionString: database.url });
    await client.connect();
    await client.query(`UPDATE outbox_destinations SET seen_at = now() - interval '25 hours' WHERE name = 'subscriber:renamed-later'`);
    await client.end();
    const later = await createRepositoryContext({}, { database, settings: { events: fast } });
    try {
      const rows = await until(
        () => later.sql<{ status: string; last_error: string }>(`SELECT status, last_error FROM outbox_deliveries d JOIN outbox o ON o.seq = d.event_seq WHERE o.user_id = $1`, [userId]),
        (r) => r[0]?.status === 'dead',
      );
      expect(rows).toEqual([{ status: 'dead', last_error: 'no instance delivers to this destination any more' }]);
    } finally {
      await later.close();
    }
  });

  it('keeps no email address in a delivery error, and an erasure clears the errors about the user', async () => {
    const ctx = await createRepositoryContext({}, {
      settings: { events: { ...fast, maxAttempts: 1 } },
      beforeInit: (module) =>
        module.get(UsersEvents).on(
          'user.created',
          async (event) => {
            const user = await module.get(UsersRepository).getUserById(event.userId);
            throw new Error(`550 mailbox <${user?.email}> unknown for ${user?.fullName}`);
          },
          { name: 'mailer' },
        ),
    });
    try {
      const email = uniqueEmail('erased-mailbox');
      const user = await ctx.users.createUserWithValidation(email, 'a long enough password 9', { fullName: 'Erased Person' });
      const [failed] = await until(
        () => ctx.sql<{ last_error: string }>(`SELECT last_error FROM outbox_deliveries WHERE user_id = $1 AND destination = 'subscriber:mailer' AND status = 'dead'`, [user.id]),
        (r) => r.length === 1,
      );
      expect(failed.last_error).toBe('550 mailbox <<email>> unknown for Erased Person');
      expect(failed.last_error).not.toContain(email);
      await ctx.users.anonymizeUser(user.id);
      const stored = JSON.stringify(await ctx.sql(`SELECT d.* FROM outbox_deliveries d WHERE d.user_id = $1`, [user.id]));
      expect(stored).not.toContain('Erased Person');
      expect(stored).toContain('redacted by an erasure');
    } finally {
      await ctx.close();
    }
  });
});

// The relay's statements at the size of a week of history: each is served by an index.
describe('user lifecycle events: the relay\'s plans over a long delivered history', () => {
  it('claims pending deliveries through their index, not through the delivered ones', async () => {
    const ctx = await createRepositoryContext({}, { settings: { events: { relay: false } } });
    try {
      // 60,000 delivered events of 20,000 users, and 100 pending ones.
      await ctx.sql(`
        WITH e AS (
          INSERT INTO outbox (type, user_id, version, fanned_out_at)
          SELECT 'user.updated', md5((n % 20000)::text)::uuid, 1, now() FROM generate_series(1, 60100) AS n RETURNING seq, user_id)
        INSERT INTO outbox_deliveries (event_seq, destination, user_id, status, attempts, delivered_at)
        SELECT seq, 'subscriber:plans', user_id, CASE WHEN seq % 601 = 0 THEN 'pending' ELSE 'delivered' END, 1, now() FROM e`);
      await ctx.sql('ANALYZE outbox');
      await ctx.sql('ANALYZE outbox_deliveries');
      const relay = ctx.module.get(OutboxRelay);
      const events = ctx.module.get(UsersEvents);
      const off = events.add({ name: 'subscriber:plans', types: null, deliver: async () => undefined });
      try {
        const { statements } = await captureSentStatements(() => relay.round());
        const claim = statements.find((s) => s.text.includes('WITH due AS'));
        const prune = statements.find((s) => s.text.startsWith('DELETE FROM'));
        expect(claim).toBeDefined();
        const plan = await explain(ctx, { sql: claim!.text, params: claim!.values });
        expect(plan).toContain('IDX_outbox_deliveries_pending');
        expect(plan).not.toMatch(/Seq Scan on outbox_deliveries/);
        expect(prune).toBeDefined();
        expect(await explain(ctx, { sql: prune!.text, params: prune!.values })).not.toMatch(/Seq Scan on outbox\b/);
      } finally {
        off();
      }
    } finally {
      await ctx.close();
    }
  });
});
