import { Logger } from '@nestjs/common';
import type { MigrationInterface, QueryRunner } from 'typeorm';
import type { TableNames } from '../../database/table-names';
import { canonicalEmail } from '../email';

const READ_BATCH = 5000;
const WRITE_BATCH = 5000;
export const EMAIL_COLLISION_ACTION = 'user.email-collision';

// The canonical form before this migration (NFKC, then toLowerCase), kept for down().
export function lowerCaseCanonicalEmail(email: string): string {
  return email.trim().normalize('NFKC').toLowerCase();
}

interface UserEmailRow {
  id: string;
  email: string;
  email_normalized: string;
  live: boolean;
  created_at: string;
}

interface Move {
  id: string;
  from: string;
  to: string;
  live: boolean;
  createdAt: string;
}

export interface EmailCollision {
  keptUserId: string;
  otherUserId: string;
}

// Recomputes email_normalized of every user that is not anonymized (an anonymized row holds a
// placeholder) with `canonical`, set-based, and returns the collisions it found. Live users must
// keep distinct values (UQ_users_email_normalized_live): when several would share a value, the
// user that already holds it keeps it, else the oldest (created_at, id) takes it, and the others
// keep their previous value, which no address can produce any more: they stay reachable by id,
// not by email, until an admin changes their email. Each collision is logged and written to the
// audit log of both users.
export async function recanonicalizeEmails(db: QueryRunner, t: TableNames, canonical: (email: string) => string, logger: Logger): Promise<EmailCollision[]> {
  const moves = new Map<string, Move>();
  for (let after = '00000000-0000-0000-0000-000000000000'; ; ) {
    const rows = (await db.query(
      `SELECT id, email, email_normalized, deleted_at IS NULL AS live, created_at::text AS created_at
       FROM ${t.users} WHERE anonymized_at IS NULL AND id > $1 ORDER BY id LIMIT $2`,
      [after, READ_BATCH],
    )) as UserEmailRow[];
    for (const r of rows) {
      const to = canonical(r.email);
      if (to !== r.email_normalized) moves.set(r.id, { id: r.id, from: r.email_normalized, to, live: r.live, createdAt: r.created_at });
    }
    if (rows.length < READ_BATCH) break;
    after = rows[rows.length - 1].id;
  }
  const collisions = await resolveCollisions(db, t, [...moves.values()].filter((m) => m.live));
  const moving = [...moves.values()].filter((m) => m.to !== m.from);
  // Two steps, so that no row meets another's old value half-way (a unique index is checked row
  // by row): moving live rows first take a value no email can have, then their new one.
  for (const chunk of chunks(moving.filter((m) => m.live), WRITE_BATCH)) {
    await db.query(`UPDATE ${t.users} SET email_normalized = 'recanonicalizing ' || id::text WHERE id = ANY($1::uuid[])`, [chunk.map((m) => m.id)]);
  }
  for (const chunk of chunks(moving, WRITE_BATCH)) {
    await db.query(`UPDATE ${t.users} u SET email_normalized = m.value FROM unnest($1::uuid[], $2::text[]) AS m(id, value) WHERE u.id = m.id`, [
      chunk.map((m) => m.id),
      chunk.map((m) => m.to),
    ]);
  }
  for (const chunk of chunks(collisions, WRITE_BATCH)) {
    await db.query(
      `INSERT INTO ${t.auditLog} (user_id, action, details)
       SELECT v.user_id, $3, jsonb_build_object('outcome', 'collision', 'reason', 'email_canonical_form', 'fields', jsonb_build_array('email'),
                                                'targetIds', jsonb_build_array(c.kept, c.other))
       FROM unnest($1::uuid[], $2::uuid[]) AS c(kept, other), LATERAL (VALUES (c.kept), (c.other)) AS v(user_id)`,
      [chunk.map((c) => c.keptUserId), chunk.map((c) => c.otherUserId), EMAIL_COLLISION_ACTION],
    );
  }
  for (const c of collisions) {
    logger.warn(`email collision: user ${c.otherUserId} keeps its previous canonical email, which user ${c.keptUserId} now holds; change one of their emails`);
  }
  return collisions;
}

// Settles which live moves may happen; the others are reverted (to = from) and reported with the
// user that ends up holding the value they wanted. A value is held by a live user that does not
// move, by a reverted move (its previous value), or else by the oldest move onto it. A move is
// only reverted when its value is held, a reverted move is never undone, and previous values are
// distinct among live users, so every round but the last reverts one more move and the loop ends.
async function resolveCollisions(db: QueryRunner, t: TableNames, live: Move[]): Promise<EmailCollision[]> {
  const movingIds = new Set(live.map((m) => m.id));
  const wanted = new Map(live.map((m) => [m.id, m.to]));
  const holders = new Map<string, string>();
  for (const chunk of chunks([...new Set(wanted.values())], WRITE_BATCH)) {
    const rows = (await db.query(`SELECT id, email_normalized FROM ${t.users} WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL`, [chunk])) as {
      id: string;
      email_normalized: string;
    }[];
    for (const r of rows) if (!movingIds.has(r.id)) holders.set(r.email_normalized, r.id);
  }
  const oldestFirst = [...live].sort((a, b) => (a.createdAt === b.createdAt ? a.id.localeCompare(b.id) : a.createdAt < b.createdAt ? -1 : 1));
  let taken = new Map<string, string>();
  for (let changed = true; changed; ) {
    changed = false;
    taken = new Map(holders);
    for (const m of oldestFirst) if (m.to === m.from) taken.set(m.from, m.id);
    for (const m of oldestFirst) {
      if (m.to === m.from) continue;
      if (taken.has(m.to)) {
        m.to = m.from;
        changed = true;
      } else taken.set(m.to, m.id);
    }
  }
  return oldestFirst
    .filter((m) => m.to === m.from)
    .map((m) => ({ keptUserId: taken.get(wanted.get(m.id) ?? '') ?? '', otherUserId: m.id }));
}

function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let start = 0; start < items.length; start += size) out.push(items.slice(start, start + size));
  return out;
}

// Issue item 9: the canonical email uses full case folding (every sigma is σ, ß is ss) and the
// IDNA ASCII form of the domain, so email_normalized of existing users is recomputed.
export class EmailCaseFolding1764900001000 implements MigrationInterface {
  readonly name: string;
  private readonly logger: Logger;

  constructor(private readonly t: TableNames) {
    this.name = t.migrationName('EmailCaseFolding1764900001000');
    this.logger = new Logger(`Migration ${this.name}`);
  }

  async up(db: QueryRunner): Promise<void> {
    await recanonicalizeEmails(db, this.t, canonicalEmail, this.logger);
  }

  async down(db: QueryRunner): Promise<void> {
    await recanonicalizeEmails(db, this.t, lowerCaseCanonicalEmail, this.logger);
  }
}
