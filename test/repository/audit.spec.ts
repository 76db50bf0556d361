import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { sanitizeAuditDetails, sanitizeNote } from '../../src/audit/audit-details';
import { AUDIT_ACTOR_ID, AUDIT_REQUEST_ID, AuditLog, auditPageSql } from '../../src/audit/audit-log.service';
import { TableNames } from '../../src/database/table-names';
import { ErrorCode } from '../../src/errors/domain-error';
import { UserValidationError } from '../../src/users/users.errors';
import { createRepositoryContext, type RepositoryContext } from '../support/repository-context';

const ARGON2_HASH = '$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$kPz0b0Xq9kqJ8m0rHq1r1nV0N2b3Zr7bQ2Yl8X0yq9s';
const BCRYPT_HASH = '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy';
const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U';

describe('audit log', () => {
  let ctx: RepositoryContext;
  let logSpy: jest.SpyInstance;

  beforeAll(async () => {
    ctx = await createRepositoryContext();
  });
  afterAll(() => ctx.close());
  beforeEach(() => {
    logSpy = jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined);
  });
  afterEach(() => logSpy.mockRestore());

  const auditLines = () => logSpy.mock.calls.map(([message]) => message as { msg: string; audit: Record<string, unknown> }).filter((m) => m?.msg === 'audit');

  describe('details sanitizer', () => {
    it('keeps a string as one single-line note without hashes, tokens or emails', () => {
      const crafted = `renamed\r\n{"level":50,"msg":"forged"}\u2028 ${ARGON2_HASH} ${BCRYPT_HASH} Bearer ${JWT} by bob@example.com`;
      const { note } = sanitizeAuditDetails(crafted) as { note: string };
      expect(note).not.toMatch(/[\r\n\u2028]/);
      expect(note).toContain('renamed{"level":50,"msg":"forged"}');
      for (const secret of ['$argon2id', '$2b$', 'eyJ', 'bob@example.com', 'kPz0b0Xq9']) expect(note).not.toContain(secret);
      expect(note.match(/\[redacted\]/g)).toHaveLength(4);
    });

    it('caps a note and drops an empty one', () => {
      expect(sanitizeNote('x'.repeat(10_000))).toHaveLength(500);
      expect(sanitizeAuditDetails('')).toEqual({});
      expect(sanitizeAuditDetails(' \n\t ')).toEqual({});
    });

    it('keeps only allow-listed keys whose values pass their rule', () => {
      const id = randomUUID();
      const details = sanitizeAuditDetails({
        fields: ['email', 'fullName', 'bad\nfield', 42],
        targetIds: [id, 'not-a-uuid'],
        count: 3,
        deleted: -1,
        outcome: 'success',
        status: 204,
        reason: 'has spaces in it',
        password: 'hunter22',
        hashedPassword: ARGON2_HASH,
        email: 'alice@example.com',
        fullName: 'Alice',
        accessToken: JWT,
        note: `changed ${ARGON2_HASH}`,
      });
      expect(details).toEqual({ fields: ['email', 'fullName'], targetIds: [id], count: 3, outcome: 'success', status: 204, note: 'changed [redacted]' });
    });

    it('keeps a client address only when it is an IP address', () => {
      for (const ip of ['203.0.113.7', '::1', '2001:db8::ff00:42:8329', '::ffff:127.0.0.1']) expect(sanitizeAuditDetails({ clientAddress: ip })).toEqual({ clientAddress: ip });
      for (const bad of ['bob@example.com', '10.0.0.1, 10.0.0.2', 'localhost', '999.1.1.1', '1.2.3.4\n', 42]) expect(sanitizeAuditDetails({ clientAddress: bad })).toEqual({});
    });

    it('refuses details that are neither text nor an object', () => {
      expect(() => sanitizeAuditDetails(['email'])).toThrow(UserValidationError);
      expect(() => sanitizeAuditDetails(5)).toThrow(UserValidationError);
    });
  });

  describe('auditLogUserChange', () => {
    it('appends a sanitized row and one structured log line', async () => {
      const userId = randomUUID();
      await ctx.users.auditLogUserChange(userId, 'user.updated', { fields: ['email'], email: 'new@example.com', hashedPassword: ARGON2_HASH });
      const rows = await ctx.sql<{ details: unknown; action: string; actor_id: string | null }>(`SELECT * FROM audit_log WHERE user_id = $1`, [userId]);
      expect(rows).toEqual([expect.objectContaining({ action: 'user.updated', actor_id: null, details: { fields: ['email'] } })]);
      expect(auditLines()).toEqual([{ msg: 'audit', audit: { userId, actorId: null, action: 'user.updated', details: { fields: ['email'] }, requestId: null } }]);
    });

    it('stores a crafted note with line breaks as one encoded JSON value', async () => {
      const userId = randomUUID();
      await ctx.users.auditLogUserChange(userId, 'user.updated', 'Mallory\n2026-01-01 INFO admin granted');
      const [row] = await ctx.sql<{ details: { note: string } }>(`SELECT details FROM audit_log WHERE user_id = $1`, [userId]);
      expect(row.details).toEqual({ note: 'Mallory2026-01-01 INFO admin granted' });
      expect(JSON.stringify(auditLines()[0])).not.toMatch(/\n/);
    });

    it('takes the actor and request id from the call, else from the nestjs-cls context', async () => {
      const cls = ctx.module.get(ClsService);
      const userId = randomUUID();
      const explicitActor = randomUUID();
      const ambientActor = randomUUID();
      await ctx.users.auditLogUserChange(userId, 'user.deactivated', {}, { actorId: explicitActor, requestId: 'req-1' });
      await cls.run(async () => {
        cls.set(AUDIT_ACTOR_ID, ambientActor);
        cls.set(AUDIT_REQUEST_ID, 'req-2');
        await ctx.users.auditLogUserChange(userId, 'user.reactivated');
        await ctx.users.auditLogUserChange(userId, 'user.deleted', {}, { actorId: null, requestId: 'req-3' });
      });
      await ctx.users.auditLogUserChange(userId, 'user.restored', {}, { requestId: 'bad id\nwith newline' });
      const page = await ctx.users.getAuditLog(userId);
      expect(page.items.map((e) => [e.action, e.actorId, e.requestId])).toEqual([
        ['user.restored', null, null],
        ['user.deleted', null, 'req-3'],
        ['user.reactivated', ambientActor, 'req-2'],
        ['user.deactivated', explicitActor, 'req-1'],
      ]);
    });

    it('rejects a malformed user id, actor id or action with VALIDATION_FAILED', async () => {
      await expect(ctx.users.auditLogUserChange('not-a-uuid', 'user.updated')).rejects.toMatchObject({ code: ErrorCode.VALIDATION_FAILED });
      await expect(ctx.users.auditLogUserChange(randomUUID(), 'User Updated')).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.users.auditLogUserChange(randomUUID(), 'user.updated', {}, { actorId: 'admin' })).rejects.toBeInstanceOf(UserValidationError);
      await expect(ctx.sql(`SELECT 1 FROM audit_log WHERE action = 'User Updated'`)).resolves.toEqual([]);
    });

    it('accepts a row about no single user (a bulk action)', async () => {
      const targets = [randomUUID(), randomUUID()];
      await ctx.users.auditLogUserChange(null, 'users.bulk-delete', { targetIds: targets, deleted: 2 });
      const rows = await ctx.sql(`SELECT details FROM audit_log WHERE user_id IS NULL AND action = 'users.bulk-delete'`);
      expect(rows).toEqual([{ details: { targetIds: targets, deleted: 2 } }]);
    });

    it('joins the caller transaction: the row rolls back with it, the log line waits for commit', async () => {
      const userId = randomUUID();
      await expect(
        ctx.users.dbTransaction(async () => {
          await ctx.users.auditLogUserChange(userId, 'user.updated', { fields: ['fullName'] });
          throw new Error('rolled back');
        }),
      ).rejects.toThrow('rolled back');
      expect(await ctx.sql(`SELECT 1 FROM audit_log WHERE user_id = $1`, [userId])).toEqual([]);
      expect(auditLines()).toEqual([]);

      await ctx.users.dbTransaction(async () => {
        await ctx.users.auditLogUserChange(userId, 'user.updated', { fields: ['fullName'] });
        expect(auditLines()).toEqual([]);
        // Not visible from another connection before commit.
        expect(await ctx.sql(`SELECT 1 FROM audit_log WHERE user_id = $1`, [userId])).toEqual([]);
      });
      expect(await ctx.sql(`SELECT 1 FROM audit_log WHERE user_id = $1`, [userId])).toHaveLength(1);
      expect(auditLines()).toHaveLength(1);
    });
  });

  describe('auditLogRequest', () => {
    it('writes one row per target, each on its own user and naming only its own id, and one log line', async () => {
      const targets = [randomUUID(), randomUUID(), randomUUID()];
      const audit = ctx.module.get(AuditLog);
      await ctx.users.dbTransaction(() => audit.auditLogRequest(targets, 'users.import', { outcome: 'success', fields: ['roles'] }, { requestId: 'req-many' }));
      const rows = await ctx.sql<{ user_id: string; details: unknown }>(`SELECT user_id, details FROM audit_log WHERE request_id = 'req-many' ORDER BY id`);
      expect(rows).toEqual(targets.map((id) => ({ user_id: id, details: { outcome: 'success', fields: ['roles'], count: 3, targetIds: [id] } })));
      for (const id of targets) expect((await ctx.users.getAuditLog(id)).items.map((e) => e.action)).toEqual(['users.import']);
      expect(auditLines()).toEqual([{ msg: 'audit', audit: expect.objectContaining({ userId: null, action: 'users.import', details: expect.objectContaining({ count: 3, targetIds: targets }) }) }]);
    });

    it('writes one row without a user for a request about nobody, and refuses malformed ids', async () => {
      const audit = ctx.module.get(AuditLog);
      await audit.auditLogRequest([], 'users.export', { outcome: 'success' }, { requestId: 'req-none' });
      await expect(ctx.sql(`SELECT user_id, details FROM audit_log WHERE request_id = 'req-none'`)).resolves.toEqual([{ user_id: null, details: { outcome: 'success', targetIds: [] } }]);
      await expect(audit.auditLogRequest(['nope'], 'users.export', {})).rejects.toBeInstanceOf(UserValidationError);
    });
  });

  describe('getAuditLog', () => {
    it('pages newest first with the total, rows of one transaction in write order', async () => {
      const userId = randomUUID();
      await ctx.users.auditLogUserChange(userId, 'user.created');
      await ctx.users.dbTransaction(async () => {
        await ctx.users.auditLogUserChange(userId, 'user.updated', { fields: ['email'] });
        await ctx.users.auditLogUserChange(userId, 'user.role-assigned', { role: 'admin' });
      });
      await ctx.users.auditLogUserChange(randomUUID(), 'user.created');

      const first = await ctx.users.getAuditLog(userId, { offset: 0, limit: 2 });
      expect(first).toMatchObject({ total: 3, offset: 0, limit: 2 });
      expect(first.items.map((e) => e.action)).toEqual(['user.role-assigned', 'user.updated']);
      expect(first.items[0]).toEqual({
        id: expect.stringMatching(/^\d+$/),
        userId,
        actorId: null,
        action: 'user.role-assigned',
        details: { role: 'admin' },
        requestId: null,
        createdAt: expect.any(Date),
      });
      const second = await ctx.users.getAuditLog(userId, { offset: 2, limit: 2 });
      expect(second.items.map((e) => e.action)).toEqual(['user.created']);
    });

    it('answers an unknown or malformed id with an empty page and rejects bad paging', async () => {
      await expect(ctx.users.getAuditLog(randomUUID())).resolves.toEqual({ items: [], total: 0, offset: 0, limit: 50 });
      await expect(ctx.users.getAuditLog('nope')).resolves.toMatchObject({ items: [], total: 0 });
      await expect(ctx.users.getAuditLog(randomUUID(), { limit: 0 })).rejects.toBeInstanceOf(UserValidationError);
    });

    it('is served by the (user_id, created_at) index', async () => {
      const plan = await ctx.dataSource.transaction(async (manager) => {
        // A tiny table would be scanned anyway; the point is that the index can serve the query.
        await manager.query('SET LOCAL enable_seqscan = off');
        const explain = auditPageSql(new TableNames()).replace('$1', `'${randomUUID()}'`).replace('$2', '0').replace('$3', '50');
        return manager.query<{ 'QUERY PLAN': string }[]>(`EXPLAIN ${explain}`);
      });
      const text = plan.map((r) => r['QUERY PLAN']).join('\n');
      expect(text).toContain('IDX_audit_log_user_id_created_at');
      expect(text).not.toMatch(/Seq Scan/);
    });
  });
});
