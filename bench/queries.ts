import { ILike, IsNull, type FindOptionsOrder, type FindOptionsWhere } from 'typeorm';
import { MAX_PAGE_LIMIT } from '../src/common/paging';
import type { UserEntity } from '../src/users/user.entity';
import type { SentStatement } from '../test/support/statement-capture';
import type { BenchContext } from './context';
import { ascending, latencies, percentile, rotatedRuns } from './measure';
import { row, type Row } from './report';
import { captureReviewed, replay } from './reviewed-sql';

const PAGE_SIZE = 50;
// The boilerplate marks soft deletion with @DeleteDateColumn, and TypeORM then adds
// `deleted_at IS NULL` to every find and count: our entity has no such column, so its finds say it.
const LIVE: FindOptionsWhere<UserEntity> = { deletedAt: IsNull() };
const NEWEST_FIRST: FindOptionsOrder<UserEntity> = { createdAt: 'DESC', id: 'DESC' };

function medianMs(samples: number[]): number {
  return percentile(ascending(samples), 50);
}

// One row of a single call timed `iterations` times per run (each run's figure is its median):
// ours, the statements it sent replayed on the bare pool, and the boilerplate's code. The
// boilerplate's calls stop after their share of its time budget in each run.
async function singleCallRow(
  ctx: BenchContext,
  name: string,
  goal: string,
  ours: () => Promise<unknown>,
  boilerplate: () => Promise<unknown>,
  { iterations = ctx.options.iterations, note }: { iterations?: number; note?: string } = {},
): Promise<Row> {
  const statements = await captureReviewed(name, ours);
  const reference = () => replay(ctx.bare, statements);
  await reference();
  const { runs, boilerplateSeconds } = ctx.options;
  const sides = await rotatedRuns(
    runs,
    async () => medianMs(await latencies(ours, iterations)),
    async () => medianMs(await latencies(reference, iterations)),
    { run: async () => medianMs(await latencies(boilerplate, iterations, (boilerplateSeconds * 1000) / runs)), budgetSeconds: boilerplateSeconds },
  );
  return row({ name, unit: 'ms', goal, ...sides, note });
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

export async function searchRows(ctx: BenchContext): Promise<Row[]> {
  const terms = await searchTerms(ctx);
  const reps = ctx.options.smoke ? 2 : 5;
  const ours = (term: string) => ctx.users.searchUsersByNameOrEmail(term, 0, PAGE_SIZE);
  // Each term's own statements: the repository may search short terms differently.
  const statements = new Map<string, SentStatement[]>();
  for (const term of terms) statements.set(term, await captureReviewed(`searchUsersByNameOrEmail('${term}')`, () => ours(term)));
  const reference = (term: string) => replay(ctx.bare, statements.get(term)!);
  const boilerplate = (term: string) =>
    ctx.boilerplate.findAndCount({ where: [{ ...LIVE, email: ILike(`%${term}%`) }, { ...LIVE, fullName: ILike(`%${term}%`) }], skip: 0, take: PAGE_SIZE });
  const mix = async (search: (term: string) => Promise<unknown>): Promise<number[]> => {
    const samples: number[] = [];
    for (let rep = 0; rep < reps; rep++) for (const term of terms) samples.push(...(await latencies(() => search(term), 1)));
    return ascending(samples);
  };
  for (const term of terms) await reference(term);
  const runs = await rotatedRuns(ctx.options.runs, () => mix(ours), () => mix(reference), { run: () => mix(boilerplate), budgetSeconds: ctx.options.boilerplateSeconds });
  const at = (p: number) => ({
    ours: runs.ours.map((s) => percentile(s, p)),
    reference: runs.reference.map((s) => percentile(s, p)),
    boilerplate: runs.boilerplate.map((s) => percentile(s, p)),
    boilerplateNote: runs.boilerplateNote,
  });
  const mixNote = `${terms.length} terms x ${reps}: ${terms.join(', ')}`;
  return [
    row({ name: 'search p50', unit: 'ms', goal: '<= 1.2x; <= 5 ms at 1M', ...at(50), note: mixNote }),
    row({ name: 'search p99', unit: 'ms', goal: '<= 1.2x; <= 60 ms at 1M', ...at(99) }),
  ];
}

const DEPTHS = [0, 0.1, 0.5, 0.9];

// The cursors listUsersAfter hands out on the way down to each offset (null at 0), taken by
// walking its own keyset pages, so that the bench never builds a cursor itself.
async function cursorsAt(ctx: BenchContext, offsets: number[]): Promise<Map<number, string | null>> {
  const cursors = new Map<number, string | null>();
  let cursor: string | null = null;
  let position = 0;
  for (const offset of [...offsets].sort((a, b) => a - b)) {
    while (position < offset) {
      const page = await ctx.users.listUsersAfter(cursor, Math.min(MAX_PAGE_LIMIT, offset - position));
      if (!page.nextCursor) throw new Error(`listUsersAfter ended at ${position + page.items.length} users, before ${offset}`);
      cursor = page.nextCursor;
      position += page.items.length;
    }
    cursors.set(offset, cursor);
  }
  return cursors;
}

export async function pageRows(ctx: BenchContext): Promise<Row[]> {
  const live = await ctx.users.countUsers();
  const rows: Row[] = [];
  const keysetOffsets = DEPTHS.map((depth) => Math.min(Math.floor(live * depth), Math.max(0, live - PAGE_SIZE)));
  const cursors = await cursorsAt(ctx, keysetOffsets);
  for (const [i, depth] of DEPTHS.entries()) {
    const offset = keysetOffsets[i];
    rows.push(
      await singleCallRow(
        ctx,
        `keyset page at ${depth * 100}%`,
        'flat; <= 2 ms at 1M',
        () => ctx.users.listUsersAfter(cursors.get(offset), PAGE_SIZE),
        () => ctx.boilerplate.find({ where: LIVE, order: NEWEST_FIRST, skip: offset, take: PAGE_SIZE }),
        { note: 'boilerplate: find with skip at the same depth (it has no keyset pages)' },
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
        () => ctx.boilerplate.findAndCount({ where: LIVE, order: NEWEST_FIRST, skip: offset, take: PAGE_SIZE }),
        { iterations: Math.max(3, Math.ceil(ctx.options.iterations / 4)) },
      ),
    );
  }
  return rows;
}

// The boilerplate's monthly report: one GROUP BY over the year's rows with the query builder.
function boilerplateSignups(ctx: BenchContext, year: number): Promise<unknown> {
  return ctx.boilerplate
    .createQueryBuilder('user')
    .select(`date_trunc('month', user.createdAt)`, 'month')
    .addSelect('count(*)', 'count')
    .where('user.deletedAt IS NULL')
    .andWhere('user.createdAt >= :start AND user.createdAt < :end', { start: new Date(Date.UTC(year, 0, 1)), end: new Date(Date.UTC(year + 1, 0, 1)) })
    .groupBy('month')
    .getRawMany();
}

export async function aggregateRows(ctx: BenchContext): Promise<Row[]> {
  const year = new Date().getUTCFullYear() - 2;
  return [
    await singleCallRow(ctx, `signups per month (${year})`, '<= 50 ms at 1M', () => ctx.users.userSignupsPerMonth(year), () => boilerplateSignups(ctx, year), {
      note: 'boilerplate: a query-builder GROUP BY month',
    }),
    await singleCallRow(ctx, 'countUsers()', 'report', () => ctx.users.countUsers(), () => ctx.boilerplate.count({ where: LIVE })),
    await singleCallRow(ctx, 'countUsers(true)', 'report', () => ctx.users.countUsers(true), () => ctx.boilerplate.count({ where: { ...LIVE, isActive: true } })),
  ];
}
