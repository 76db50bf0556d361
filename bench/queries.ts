import type { QueryResult } from 'pg';
import { SEARCH_TOTAL_CAP } from '../src/users/repository/user-reads';
import { USER_COLUMNS } from '../src/users/user-row';
import type { BenchContext } from './context';
import { ascending, latencies, pairedRuns, percentile } from './measure';
import { row, type Row } from './report';

// The SQL the repository emits (src/users/repository/user-reads.ts), run bare through pg.
const NEWEST_FIRST = 'ORDER BY u.created_at DESC, u.id DESC';
const PAGE_SIZE = 50;
const LIVE = 'u.deleted_at IS NULL';

async function barePage(ctx: BenchContext, condition: string, params: unknown[], offset: number): Promise<unknown> {
  const where = `${LIVE} AND ${condition}`;
  const n = params.length;
  return Promise.all([
    ctx.bare.query(`SELECT ${USER_COLUMNS} FROM users u WHERE ${where} ${NEWEST_FIRST} OFFSET $${n + 1} LIMIT $${n + 2}`, [...params, offset, PAGE_SIZE]),
    ctx.bare.query(`SELECT count(*) FROM users u WHERE ${where}`, params),
  ]);
}

function medianMs(samples: number[]): number {
  return percentile(ascending(samples), 50);
}

// One row of a single call timed `iterations` times per run: each run's figure is its median.
async function singleCallRow(ctx: BenchContext, name: string, goal: string, ours: () => Promise<unknown>, reference: () => Promise<unknown>, iterations = ctx.options.iterations): Promise<Row> {
  await ours();
  await reference();
  const runs = await pairedRuns(
    ctx.options.runs,
    async () => medianMs(await latencies(ours, iterations)),
    async () => medianMs(await latencies(reference, iterations)),
  );
  return row({ name, unit: 'ms', goal, ...runs });
}

// A fixed mix, two of each kind: a rare term matches one user, a common one many thousands, a
// short one is below pg_trgm's three characters, an absent one nobody.
async function searchTerms(ctx: BenchContext): Promise<string[]> {
  const rare = await Promise.all(
    [0.37, 0.81].map(async (depth) => {
      const { rows } = await ctx.bare.query<{ local: string }>(
        `SELECT split_part(email, '@', 1) AS local FROM users WHERE deleted_at IS NULL ORDER BY created_at, id OFFSET $1 LIMIT 1`,
        [Math.floor(ctx.options.users * depth * 0.95)],
      );
      return rows[0].local;
    }),
  );
  return [...rare, 'anna', 'martin', 'gmail', 'li', 'jo', 'zzqxj', 'xylophone'];
}

// The repository's two search statements (user-reads.ts, searchPage), for a term without %, _ or \.
function bareSearch(ctx: BenchContext, term: string): Promise<unknown> {
  const [condition, params] =
    term.length < 3 ? ['(m.search_text LIKE lower($1) OR m.search_text LIKE lower($2))', [`%\n${term}%`, `% ${term}%`]] : ['m.search_text LIKE lower($1)', [`%${term}%`]];
  const matches = `FROM users m WHERE m.deleted_at IS NULL AND ${condition} ORDER BY m.created_at DESC, m.id DESC`;
  const n = params.length;
  return Promise.all([
    ctx.bare.query(`SELECT ${USER_COLUMNS} FROM users u JOIN (SELECT m.id ${matches} OFFSET $${n + 1} LIMIT $${n + 2}) hit ON hit.id = u.id ${NEWEST_FIRST}`, [
      ...params,
      0,
      PAGE_SIZE,
    ]),
    ctx.bare.query(`SELECT count(*) FROM (SELECT 1 ${matches} LIMIT ${SEARCH_TOTAL_CAP + 1}) capped`, params),
  ]);
}

export async function searchRows(ctx: BenchContext): Promise<Row[]> {
  const terms = await searchTerms(ctx);
  const reps = ctx.options.smoke ? 2 : 5;
  const ours = (term: string) => ctx.users.searchUsersByNameOrEmail(term);
  const reference = (term: string) => bareSearch(ctx, term);
  const mix = async (search: (term: string) => Promise<unknown>): Promise<number[]> => {
    const samples: number[] = [];
    for (let rep = 0; rep < reps; rep++) for (const term of terms) samples.push(...(await latencies(() => search(term), 1)));
    return ascending(samples);
  };
  for (const term of terms) {
    await ours(term);
    await reference(term);
  }
  const runs = await pairedRuns(ctx.options.runs, () => mix(ours), () => mix(reference));
  const mixNote = `${terms.length} terms x ${reps}: ${terms.join(', ')}`;
  return [
    row({ name: 'search p50', unit: 'ms', goal: '<= 1.2x; <= 5 ms at 1M', ours: runs.ours.map((s) => percentile(s, 50)), reference: runs.reference.map((s) => percentile(s, 50)), note: mixNote }),
    row({ name: 'search p99', unit: 'ms', goal: '<= 1.2x; <= 60 ms at 1M', ours: runs.ours.map((s) => percentile(s, 99)), reference: runs.reference.map((s) => percentile(s, 99)) }),
  ];
}

const DEPTHS = [0, 0.1, 0.5, 0.9];

// The cursor the repository would have returned on the page before `offset`, built the same way.
async function cursorAt(ctx: BenchContext, offset: number): Promise<{ cursor: string; createdAt: string; id: string } | null> {
  if (offset === 0) return null;
  const { rows } = await ctx.bare.query<{ created_at_exact: string; id: string }>(
    `SELECT ${USER_COLUMNS} FROM users u WHERE ${LIVE} ${NEWEST_FIRST} OFFSET $1 LIMIT 1`,
    [offset - 1],
  );
  const { created_at_exact: createdAt, id } = rows[0];
  return { cursor: Buffer.from(JSON.stringify([createdAt, id])).toString('base64url'), createdAt, id };
}

export async function pageRows(ctx: BenchContext): Promise<Row[]> {
  const live = await ctx.users.countUsers();
  const rows: Row[] = [];
  for (const depth of DEPTHS) {
    const offset = Math.min(Math.floor(live * depth), Math.max(0, live - PAGE_SIZE));
    const after = await cursorAt(ctx, offset);
    const keysetSql = after
      ? `SELECT ${USER_COLUMNS} FROM users u WHERE ${LIVE} AND (u.created_at, u.id) < ($2::timestamptz, $3::uuid) ${NEWEST_FIRST} LIMIT $1`
      : `SELECT ${USER_COLUMNS} FROM users u WHERE ${LIVE} ${NEWEST_FIRST} LIMIT $1`;
    const keysetParams = after ? [PAGE_SIZE + 1, after.createdAt, after.id] : [PAGE_SIZE + 1];
    rows.push(
      await singleCallRow(
        ctx,
        `keyset page at ${depth * 100}%`,
        'flat; <= 2 ms at 1M',
        () => ctx.users.listUsersAfter(after?.cursor, PAGE_SIZE),
        (): Promise<QueryResult> => ctx.bare.query(keysetSql, keysetParams),
      ),
    );
  }
  for (const depth of DEPTHS) {
    const offset = Math.floor(live * depth);
    rows.push(
      await singleCallRow(
        ctx,
        `offset page at ${depth * 100}%`,
        'report',
        () => ctx.users.listUsersPaginated(offset, PAGE_SIZE),
        () => barePage(ctx, 'TRUE', [], offset),
        Math.max(3, Math.ceil(ctx.options.iterations / 4)),
      ),
    );
  }
  return rows;
}

export async function aggregateRows(ctx: BenchContext): Promise<Row[]> {
  const year = new Date().getUTCFullYear() - 2;
  const signupsSql = `SELECT m.month, (SELECT count(*) FROM users u
                         WHERE u.deleted_at IS NULL
                           AND u.created_at >= make_timestamptz($1, m.month, 1, 0, 0, 0, 'UTC')
                           AND u.created_at < make_timestamptz($1, m.month, 1, 0, 0, 0, 'UTC') + interval '1 month') AS count
       FROM generate_series(1, 12) AS m(month)`;
  return [
    await singleCallRow(ctx, `signups per month (${year})`, '<= 50 ms at 1M', () => ctx.users.userSignupsPerMonth(year), () => ctx.bare.query(signupsSql, [year])),
    await singleCallRow(ctx, 'countUsers()', 'report', () => ctx.users.countUsers(), () => ctx.bare.query(`SELECT count(*) FROM users u WHERE ${LIVE}`)),
    await singleCallRow(ctx, 'countUsers(true)', 'report', () => ctx.users.countUsers(true), () =>
      ctx.bare.query(`SELECT count(*) FROM users u WHERE ${LIVE} AND u.is_active = $1`, [true]),
    ),
  ];
}
