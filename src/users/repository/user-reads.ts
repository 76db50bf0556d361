import { Injectable } from '@nestjs/common';
import { UserCache } from '../user-cache.service';
import { isRealTimestamp } from '../../common/calendar';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { canonicalEmail, emailProblem } from '../email';
import { toUser, toUserAuthState, USER_COLUMNS, withoutTokenEpoch, type UserRow } from '../user-row';
import type { KeysetPage, Page, PageOptions, User, UserAuthState, UserCredentials, UserFile, UserWithFiles } from '../user.model';
import { UserNotFoundError, UserValidationError } from '../users.errors';
import { isUuid, paging, type Paging } from '../../common/paging';
import { liveFilter } from './live-filter';
import { FIELD_NAME_PATTERN, ROLE_PATTERN } from '../user-rules';
import { UserStore } from './user-store';
import { MAX_INACTIVE_DAYS } from '../retention/retention.settings';

const NEWEST_FIRST = 'ORDER BY u.created_at DESC, u.id DESC';
// When a user was last seen, in the words of IDX_users_live_last_seen (the planner matches the
// expression as written there); dormant = live and not seen for $1 days.
const LAST_SEEN_U = 'COALESCE(u.last_login_at, u.created_at)';
const DORMANT = `u.deleted_at IS NULL AND ${LAST_SEEN_U} < now() - make_interval(days => $1::int)`;
// Searches count their matches up to this many; a larger total is reported as capped. Counting
// them costs about cap / (share of users matching) rows read: at 1M users a term matching 2% of
// them costs about 15 ms at 1,000 and ten times that at 10,000.
export const SEARCH_TOTAL_CAP = 1_000;
// pg_trgm indexes three-character sequences, which a shorter term cannot fill. Such a term
// matches the start of the email or of a word of the name instead: pg_trgm pads every word with
// spaces in front, so " jo" is a trigram of any word starting with jo. It must be letters or
// digits, which is what pg_trgm puts in a word.
const SHORT_TERM = /^[\p{L}\p{N}]{1,2}$/u;

export interface UserFilter {
  isActive?: boolean;
  role?: string;
  createdFrom?: Date;
  createdTo?: Date;
}

// A keyset position: the exact timestamp the page is ordered by (as text, to the microsecond) and
// the id that breaks its ties.
interface Cursor {
  at: string;
  id: string;
}


// Every read of users. Soft-deleted users are invisible unless `withDeleted` is asked for.
@Injectable()
export class UserReads {
  constructor(
    private readonly db: Db,
    private readonly cache: UserCache,
    private readonly store: UserStore,
    private readonly t: TableNames,
  ) {}

  async getUserById(id: string, options: { withDeleted?: boolean } = {}): Promise<User | null> {
    if (!isUuid(id)) return null;
    if (options.withDeleted) return this.store.findUser(id, liveFilter(true));
    const state = await this.getUserAuthState(id);
    return state && withoutTokenEpoch(state);
  }

  // The live user with its token epoch, for the auth guard. The cache holds the epoch with the
  // user, so getUserById and the guard share one entry and one invalidation.
  async getUserAuthState(id: string): Promise<UserAuthState | null> {
    if (!isUuid(id)) return null;
    const columns = `${USER_COLUMNS}, u.token_epoch::text AS token_epoch`;
    // Inside a transaction the cache is skipped both ways: its entries for users this transaction
    // changed are dropped only after commit, and what is read here may yet roll back.
    if (this.db.inTransaction()) {
      const [row] = await this.db.read<UserRow & { token_epoch: string }>(`SELECT ${columns} FROM ${this.t.users} u WHERE u.id = $1 AND u.deleted_at IS NULL`, [id]);
      return row ? toUserAuthState(row) : null;
    }
    const cached = await this.cache.getAuthState(id.toLowerCase());
    if (cached) return cached;
    const mark = this.cache.invalidationMark();
    const [row] = await this.db.read<UserRow & { token_epoch: string; row_version: string }>(
      `SELECT ${columns}, u.xmin::text AS row_version FROM ${this.t.users} u WHERE u.id = $1 AND u.deleted_at IS NULL`,
      [id],
      this.t.statement('users_live_auth_by_id'),
    );
    if (!row) return null;
    const state = toUserAuthState(row);
    await this.fillCache(state, row.row_version, mark);
    return state;
  }

  // A write that committed between our SELECT and our set has already dropped its entry, so the
  // one just stored may be older than the row. Every update gives the row a new xmin: if it
  // changed (or the row went), drop the entry again; later writes drop it after their commit.
  private async fillCache(user: UserAuthState, rowVersion: string, mark: number): Promise<void> {
    await this.cache.set(user);
    if (!this.cache.mayHaveBeenInvalidatedSince(mark)) return;
    const unchanged = await this.db.read(
      `SELECT 1 FROM ${this.t.users} u WHERE u.id = $1 AND u.xmin::text = $2 AND u.deleted_at IS NULL`,
      [user.id, rowVersion],
      this.t.statement('users_live_unchanged'),
    );
    if (unchanged.length === 0) await this.cache.delete([user.id]);
  }

  async safeGetUserById(id: string, options: { withDeleted?: boolean } = {}): Promise<User> {
    const user = await this.getUserById(id, options);
    if (!user) throw new UserNotFoundError(id);
    return user;
  }

  async userExists(id: string): Promise<boolean> {
    return isUuid(id) && this.store.liveUserExists(id);
  }

  async getUsersByIds(ids: string[]): Promise<User[]> {
    const unique = [...new Set(ids.filter(isUuid).map((id) => id.toLowerCase()))];
    if (unique.length === 0) return [];
    const rows = await this.db.read<UserRow>(
      `SELECT ${USER_COLUMNS} FROM unnest($1::uuid[]) WITH ORDINALITY AS wanted(id, position)
       JOIN ${this.t.users} u ON u.id = wanted.id WHERE u.deleted_at IS NULL ORDER BY wanted.position`,
      [unique],
    );
    return rows.map(toUser);
  }

  async listUsersPaginated(offset = 0, limit?: number, options: { withDeleted?: boolean } = {}): Promise<Page<User>> {
    return this.page('TRUE', [], paging({ offset, limit, withDeleted: options.withDeleted }));
  }

  // Keyset pagination over (created_at, id), newest first: constant time at any depth.
  async listUsersAfter(cursor: string | null | undefined, limit?: number, options: { withDeleted?: boolean } = {}): Promise<KeysetPage<User>> {
    const { limit: size, withDeleted } = paging({ limit, withDeleted: options.withDeleted });
    const after = cursor ? decodeCursor(cursor) : undefined;
    const params: unknown[] = [size + 1];
    let where = liveFilter(withDeleted);
    if (after) {
      params.push(after.at, after.id);
      where += ` AND (u.created_at, u.id) < ($2::timestamptz, $3::uuid)`;
    }
    const rows = await this.db.read<UserRow>(`SELECT ${USER_COLUMNS} FROM ${this.t.users} u WHERE ${where} ${NEWEST_FIRST} LIMIT $1`, params);
    const items = rows.slice(0, size);
    const last = rows.length > size ? items[items.length - 1] : undefined;
    return { items: items.map(toUser), nextCursor: last ? encodeCursor({ at: last.created_at_exact, id: last.id }) : null };
  }

  // Live users not seen (logged in, or created if they never did) for `inactiveForDays`, the
  // longest unseen first: a keyset walk of IDX_users_live_last_seen over (last seen, id).
  async listDormantUsers(options: { inactiveForDays: number; after?: string | null; limit?: number }): Promise<KeysetPage<User>> {
    const days = inactiveDays(options?.inactiveForDays);
    const { limit: size } = paging({ limit: options.limit });
    const after = options.after ? decodeCursor(options.after) : undefined;
    const params: unknown[] = [days, size + 1];
    let where = DORMANT;
    if (after) {
      params.push(after.at, after.id);
      where += ` AND (${LAST_SEEN_U}, u.id) > ($3::timestamptz, $4::uuid)`;
    }
    const rows = await this.db.read<UserRow & { last_seen_exact: string }>(
      `SELECT ${USER_COLUMNS}, to_char(${LAST_SEEN_U} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_seen_exact
       FROM ${this.t.users} u WHERE ${where} ORDER BY ${LAST_SEEN_U}, u.id LIMIT $2`,
      params,
    );
    const items = rows.slice(0, size);
    const last = rows.length > size ? items[items.length - 1] : undefined;
    return { items: items.map(toUser), nextCursor: last ? encodeCursor({ at: last.last_seen_exact, id: last.id }) : null };
  }

  // How many live users listDormantUsers would list, counted on the same index.
  async countDormantUsers(options: { inactiveForDays: number }): Promise<number> {
    const days = inactiveDays(options?.inactiveForDays);
    const [row] = await this.db.read<{ count: string }>(`SELECT count(*) FROM ${this.t.users} u WHERE ${DORMANT}`, [days]);
    return Number(row.count);
  }

  // Case-insensitive substring match on email or name; %, _ and \ are literal. A term of one or
  // two characters matches the start of the email or of a word of the name (see SHORT_TERM).
  async searchUsersByNameOrEmail(query: string, offset = 0, limit?: number, options: { withDeleted?: boolean } = {}): Promise<Page<User>> {
    if (typeof query !== 'string' || query.trim().length === 0) throw UserValidationError.field('q', 'must not be empty');
    if (query.length > 254) throw UserValidationError.field('q', 'must be at most 254 characters');
    if (/\p{Cc}/u.test(query)) throw UserValidationError.field('q', 'must not contain control characters');
    const term = query.trim();
    const short = [...term].length < 3;
    if (short && !SHORT_TERM.test(term)) throw UserValidationError.field('q', 'must be letters or digits when shorter than 3 characters');
    // LIKEs on search_text (the SearchText migration says why), lower-cased by PostgreSQL, which
    // folds some letters differently from JavaScript. The search_text of every user starts with
    // a line feed, and so does its name part.
    const [condition, params]: [string, string[]] = short
      ? ['(m.search_text LIKE lower($1) OR m.search_text LIKE lower($2))', [`%\n${term}%`, `% ${term}%`]]
      : ['m.search_text LIKE lower($1)', [`%${term.replace(/[\\%_]/g, (c) => `\\${c}`)}%`]];
    return this.searchPage(condition, params, paging({ offset, limit, withDeleted: options.withDeleted }));
  }

  async filterUsersByStatus(isActive: boolean, options?: PageOptions): Promise<Page<User>> {
    if (typeof isActive !== 'boolean') throw UserValidationError.field('isActive', 'must be true or false');
    return this.page('u.is_active = $1', [isActive], paging(options));
  }

  async getActiveUsers(options?: PageOptions): Promise<Page<User>> {
    return this.filterUsersByStatus(true, options);
  }

  async getInactiveUsers(options?: PageOptions): Promise<Page<User>> {
    return this.filterUsersByStatus(false, options);
  }

  async filterUsersByRole(role: string, options?: PageOptions): Promise<Page<User>> {
    if (typeof role !== 'string' || !ROLE_PATTERN.test(role)) throw UserValidationError.field('role', 'must be a lower-case identifier');
    return this.page('u.roles @> ARRAY[$1]::text[]', [role], paging(options));
  }

  async getUsersCreatedWithin(start: Date, end: Date, options?: PageOptions): Promise<Page<User>> {
    if (!(start instanceof Date) || Number.isNaN(start.getTime())) throw UserValidationError.field('start', 'must be a valid date');
    if (!(end instanceof Date) || Number.isNaN(end.getTime())) throw UserValidationError.field('end', 'must be a valid date');
    if (start > end) throw UserValidationError.field('start', 'must not be after end');
    return this.page('u.created_at >= $1 AND u.created_at < $2', [start, end], paging(options));
  }

  // Users whose metadata holds `field` equal to `value` (jsonb containment, GIN-indexed).
  async getUsersByCustomField(field: string, value: unknown, options?: PageOptions): Promise<Page<User>> {
    if (typeof field !== 'string' || !FIELD_NAME_PATTERN.test(field)) {
      throw UserValidationError.field('field', 'must match [A-Za-z_][A-Za-z0-9_]{0,63}');
    }
    const json = toJson(value);
    if (json === undefined || json.includes('\\u0000')) throw UserValidationError.field('value', 'must be a JSON value without NUL characters');
    return this.page('u.metadata @> jsonb_build_object($1::text, $2::jsonb)', [field, json], paging(options));
  }

  // The filters of GET /users combined with AND; each alone is served by its own index.
  async findUsers(filter: UserFilter, options?: PageOptions): Promise<Page<User>> {
    const conditions: string[] = ['TRUE'];
    const params: unknown[] = [];
    const bind = (value: unknown) => `$${params.push(value)}`;
    if (filter.isActive !== undefined) conditions.push(`u.is_active = ${bind(filter.isActive)}`);
    if (filter.role !== undefined) {
      if (!ROLE_PATTERN.test(filter.role)) throw UserValidationError.field('role', 'must be a lower-case identifier');
      conditions.push(`u.roles @> ARRAY[${bind(filter.role)}]::text[]`);
    }
    if (filter.createdFrom && filter.createdTo && filter.createdFrom > filter.createdTo) {
      throw UserValidationError.field('createdFrom', 'must not be after createdTo');
    }
    if (filter.createdFrom) conditions.push(`u.created_at >= ${bind(filter.createdFrom)}`);
    if (filter.createdTo) conditions.push(`u.created_at < ${bind(filter.createdTo)}`);
    return this.page(conditions.join(' AND '), params, paging(options));
  }

  async countUsers(isActive?: boolean, options: { withDeleted?: boolean } = {}): Promise<number> {
    if (isActive !== undefined && typeof isActive !== 'boolean') throw UserValidationError.field('isActive', 'must be true or false');
    const where = liveFilter(options.withDeleted === true);
    const [row] =
      isActive === undefined
        ? await this.db.read<{ count: string }>(`SELECT count(*) FROM ${this.t.users} u WHERE ${where}`)
        : await this.db.read<{ count: string }>(`SELECT count(*) FROM ${this.t.users} u WHERE ${where} AND u.is_active = $1`, [isActive]);
    return Number(row.count);
  }

  // The user and its files, newest first, in one round trip.
  async getUserWithFiles(id: string): Promise<UserWithFiles | null> {
    if (!isUuid(id)) return null;
    const [row] = await this.db.read<UserRow & { files: (Omit<UserFile, 'createdAt'> & { createdAt: string })[] }>(
      `SELECT ${USER_COLUMNS},
         COALESCE((SELECT json_agg(json_build_object('id', f.id, 'filename', f.filename, 'contentType', f.content_type,
                     'sizeBytes', f.size_bytes, 'createdAt', f.created_at) ORDER BY f.created_at DESC, f.id DESC)
                   FROM ${this.t.files} f WHERE f.user_id = u.id), '[]'::json) AS files
       FROM ${this.t.users} u WHERE u.id = $1 AND u.deleted_at IS NULL`,
      [id],
    );
    if (!row) return null;
    return {
      ...toUser(row),
      files: row.files.map((f) => ({ ...f, sizeBytes: Number(f.sizeBytes), createdAt: new Date(f.createdAt) })),
    };
  }

  // Signups per calendar month (UTC) of `year`, all twelve months present. Twelve index-only
  // range counts on the live (created_at, id) index beat a GROUP BY over the year's rows.
  async userSignupsPerMonth(year: number): Promise<Record<number, number>> {
    if (!Number.isInteger(year) || year < 1970 || year > 9999) throw UserValidationError.field('year', 'must be an integer from 1970 to 9999');
    const rows = await this.db.read<{ month: number; count: string }>(
      `SELECT m.month, (SELECT count(*) FROM ${this.t.users} u
                         WHERE u.deleted_at IS NULL
                           AND u.created_at >= make_timestamptz($1, m.month, 1, 0, 0, 0, 'UTC')
                           AND u.created_at < make_timestamptz($1, m.month, 1, 0, 0, 0, 'UTC') + interval '1 month') AS count
       FROM generate_series(1, 12) AS m(month)`,
      [year],
    );
    return Object.fromEntries(rows.map((r) => [r.month, Number(r.count)]));
  }

  async isEmailUnique(email: string, excludeUserId?: string): Promise<boolean> {
    const problem = emailProblem(email);
    if (problem) throw UserValidationError.field('email', problem);
    const exclude = excludeUserId !== undefined && isUuid(excludeUserId) ? excludeUserId : null;
    return !(await this.store.liveEmailTaken(canonicalEmail(email), exclude));
  }

  // For the auth module only: the one read that returns the password hash.
  async getCredentialsByEmail(email: string): Promise<UserCredentials | null> {
    if (emailProblem(email) !== undefined) return null;
    return this.credentials('u.email_normalized = $1', canonicalEmail(email));
  }

  async getCredentialsById(id: string): Promise<UserCredentials | null> {
    return isUuid(id) ? this.credentials('u.id = $1', id) : null;
  }

  private async credentials(condition: string, value: string): Promise<UserCredentials | null> {
    const [row] = await this.db.read<{ id: string; hashed_password: string; is_active: boolean; roles: string[]; version: number; token_epoch: string }>(
      `SELECT id, hashed_password, is_active, roles, version, token_epoch::text FROM ${this.t.users} u WHERE ${condition} AND u.deleted_at IS NULL`,
      [value],
    );
    return row
      ? { id: row.id, hashedPassword: row.hashed_password, isActive: row.is_active, roles: row.roles, version: row.version, tokenEpoch: row.token_epoch }
      : null;
  }

  // Locks the rows of the active holders of `role` (or of any of several) until the caller's
  // transaction ends.
  async lockActiveUsersWithRole(role: string | readonly string[]): Promise<void> {
    await this.db.query(`SELECT id FROM ${this.t.users} u WHERE u.deleted_at IS NULL AND u.is_active AND u.roles && $1::text[] FOR UPDATE`, [[role].flat()]);
  }

  // Active, live holders of `role` (or of any of several) other than `excludeIds`: the last-admin
  // guardrail asks this.
  async countActiveUsersWithRole(role: string | readonly string[], excludeIds: string[] = []): Promise<number> {
    const [row] = await this.db.read<{ count: string }>(
      `SELECT count(*) FROM ${this.t.users} u WHERE u.deleted_at IS NULL AND u.is_active AND u.roles && $1::text[] AND NOT (u.id = ANY($2::uuid[]))`,
      [[role].flat(), excludeIds.filter(isUuid)],
    );
    return Number(row.count);
  }

  // An offset page and its total. The page picks the ids first and reads the rows after: the rows
  // an offset skips are walked in the index alone, never read from the table nor formatted.
  private async page(condition: string, params: unknown[], { offset, limit, withDeleted }: Paging): Promise<Page<User>> {
    const where = `${liveFilter(withDeleted)} AND ${condition}`;
    const n = params.length;
    const [rows, [{ count }]] = await Promise.all([
      this.db.read<UserRow>(
        `SELECT ${USER_COLUMNS} FROM ${this.t.users} u
         JOIN (SELECT u.id FROM ${this.t.users} u WHERE ${where} ${NEWEST_FIRST} OFFSET $${n + 1} LIMIT $${n + 2}) page ON page.id = u.id ${NEWEST_FIRST}`,
        [...params, offset, limit],
      ),
      this.db.read<{ count: string }>(`SELECT count(*) FROM ${this.t.users} u WHERE ${where}`, params),
    ]);
    return { items: rows.map(toUser), total: Number(count), offset, limit };
  }

  // A search page and its total, capped at SEARCH_TOTAL_CAP; `condition` is on alias m. The page
  // picks the ids first and reads the rows after, so that a common term's page reads only the
  // covering index until it has found them. The count orders too: it then also walks that index
  // newest first and stops at the cap, where the planner would otherwise read the table itself.
  private async searchPage(condition: string, params: unknown[], { offset, limit, withDeleted }: Paging): Promise<Page<User>> {
    const where = `${liveFilter(withDeleted, 'm')} AND ${condition}`;
    const matchesNewestFirst = `FROM ${this.t.users} m WHERE ${where} ORDER BY m.created_at DESC, m.id DESC`;
    const n = params.length;
    const [rows, [{ count }]] = await Promise.all([
      this.db.read<UserRow>(
        `SELECT ${USER_COLUMNS} FROM ${this.t.users} u JOIN (SELECT m.id ${matchesNewestFirst} OFFSET $${n + 1} LIMIT $${n + 2}) hit ON hit.id = u.id ${NEWEST_FIRST}`,
        [...params, offset, limit],
      ),
      this.db.read<{ count: string }>(`SELECT count(*) FROM (SELECT 1 ${matchesNewestFirst} LIMIT ${SEARCH_TOTAL_CAP + 1}) capped`, params),
    ]);
    const total = Number(count);
    if (total > SEARCH_TOTAL_CAP) return { items: rows.map(toUser), total: SEARCH_TOTAL_CAP, totalCapped: true, offset, limit };
    return { items: rows.map(toUser), total, offset, limit };
  }
}

// JSON text for a value, or undefined for what JSON cannot carry (undefined, functions, symbols,
// bigints, cycles), so that such a value is refused instead of becoming a search for null.
function toJson(value: unknown): string | undefined {
  try {
    return JSON.stringify(value);
  } catch {
    return undefined;
  }
}

function inactiveDays(value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1 || value > MAX_INACTIVE_DAYS) {
    throw UserValidationError.field('inactiveForDays', `must be an integer from 1 to ${MAX_INACTIVE_DAYS}`);
  }
  return value;
}

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id])).toString('base64url');
}

function decodeCursor(raw: string): Cursor {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && typeof parsed[0] === 'string' && isUuid(parsed[1])) {
      const [at, id] = parsed as [string, string];
      if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}Z$/.test(at) && isRealTimestamp(at)) return { at, id };
    }
  } catch {
    // fall through to the validation error
  }
  throw UserValidationError.field('after', 'is not a cursor returned by this API');
}
