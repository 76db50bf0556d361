import { Injectable } from '@nestjs/common';
import { ClsService } from 'nestjs-cls';
import { AUDIT_ACTOR_ID, AUDIT_REQUEST_ID } from '../../audit/audit-log.service';
import { isUuid } from '../../common/paging';
import { REQUEST_ID } from '../../common/request-id';
import { Db } from '../../database/db.service';
import { TableNames } from '../../database/table-names';
import { UsersSettings } from '../users.options';
import type { UserEventType } from './user-event';

// What a write tells the outbox about the rows it returns (each row: the user's id and version).
export interface EventSpec {
  type: UserEventType;
  // The fields the change wrote, in the API's spelling.
  fields?: readonly string[];
  // For a statement that inserts or updates (it returns `inserted`, from `xmax = 0`): an inserted
  // row is a user.created without fields; an updated one is `type`, or nothing with 'created-only'
  // (an upsert that changed nothing).
  inserted?: 'created-or-type' | 'created-only';
  // One more field name for the rows where `when` holds, with `join` (SQL after `FROM w`) to say
  // it: the password an import row carried.
  extraField?: { name: string; when: string; join: string };
}

// From this many events on, record() copies them in.
const COPY_FROM = 100;

// Writes user lifecycle events into the outbox in the transaction of their change: as part of the
// change's own statement (statement()), or as one more statement in its transaction (record()).
@Injectable()
export class Outbox {
  private readonly listeners = new Set<() => void>();

  constructor(
    private readonly settings: UsersSettings,
    private readonly cls: ClsService,
    private readonly db: Db,
    private readonly t: TableNames,
  ) {}

  get enabled(): boolean {
    return this.settings.events.enabled;
  }

  // The write `sql` (which must return `id` and `version`) as one statement that also inserts an
  // event per returned row, and still returns what `sql` returned. Unchanged when events are off.
  statement(sql: string, params: unknown[], spec: EventSpec): { sql: string; params: unknown[] } {
    if (!this.enabled) return { sql, params };
    const n = params.length;
    const { type, fields, where } = this.expressions(spec, n);
    const join = spec.extraField?.join ?? '';
    return {
      sql: `WITH w AS (${sql}), e AS (
  INSERT INTO ${this.t.outbox} (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT ${type}, w.id, $${n + 3}::uuid, $${n + 4}::text, w.version, ${fields} FROM w ${join} ${where}
) SELECT w.* FROM w`,
      params: [...params, spec.type, [...(spec.fields ?? [])], ...this.context()],
    };
  }

  // Inserts the events of users already changed in the ambient transaction (a change made of
  // several statements, such as an erasure); the caller then calls written(), once per change.
  async record(users: readonly { id: string; version: number }[], spec: Pick<EventSpec, 'type' | 'fields'>): Promise<void> {
    if (!this.enabled || users.length === 0) return;
    if (users.length >= COPY_FROM) {
      await this.copy(users, spec);
      return;
    }
    await this.db.query(
      `INSERT INTO ${this.t.outbox} (type, user_id, actor_id, request_id, version, changed_fields)
       SELECT $1::text, w.id, $3::uuid, $4::text, w.version, $2::text[] FROM unnest($5::uuid[], $6::int[]) AS w(id, version)`,
      [spec.type, [...(spec.fields ?? [])], ...this.context(), users.map((u) => u.id), users.map((u) => u.version)],
    );
  }

  // Many events (a bulk create) through COPY: a tenth of the time of an INSERT from arrays. Every
  // value here is a uuid, an integer, or a name from a closed set (types, field names, request ids
  // matching REQUEST_ID), none of which holds a character COPY's text format escapes.
  private async copy(users: readonly { id: string; version: number }[], spec: Pick<EventSpec, 'type' | 'fields'>): Promise<void> {
    const [actor, request] = this.context();
    const shared = `\t${actor ?? '\\N'}\t${request ?? '\\N'}\t`;
    const fields = `{${(spec.fields ?? []).join(',')}}`;
    function* lines(): Generator<string> {
      for (let start = 0; start < users.length; start += 1000) {
        let chunk = '';
        for (const user of users.slice(start, start + 1000)) chunk += `${spec.type}\t${user.id}${shared}${user.version}\t${fields}\n`;
        yield chunk;
      }
    }
    await this.db.copyIn(`COPY ${this.t.outbox} (type, user_id, actor_id, request_id, version, changed_fields) FROM STDIN`, lines());
  }

  // Tells the relay, once the ambient transaction commits (at once without one), that events
  // were written: it delivers them without waiting for its next poll.
  async written(): Promise<void> {
    if (this.enabled && this.listeners.size) await this.db.afterCommit(async () => this.listeners.forEach((listener) => listener()));
  }

  onWritten(listener: () => void): void {
    this.listeners.add(listener);
  }

  private expressions(spec: EventSpec, n: number): { type: string; fields: string; where: string } {
    const type = `$${n + 1}::text`;
    let fields = `$${n + 2}::text[]`;
    if (spec.extraField) fields = `CASE WHEN ${spec.extraField.when} THEN ${fields} || '${spec.extraField.name}'::text ELSE ${fields} END`;
    // Every parameter stays referenced (PostgreSQL cannot type one that is not).
    if (spec.inserted) {
      return {
        type: `CASE WHEN w.inserted THEN 'user.created' ELSE ${type} END`,
        fields: `CASE WHEN w.inserted THEN '{}'::text[] ELSE ${fields} END`,
        where: spec.inserted === 'created-only' ? 'WHERE w.inserted' : '',
      };
    }
    return { type, fields, where: '' };
  }

  // Who acted, and for which request, as the audit trail records them.
  private context(): [string | null, string | null] {
    const actor = this.cls.isActive() ? this.cls.get<string | undefined>(AUDIT_ACTOR_ID) : undefined;
    const request = this.cls.isActive() ? this.cls.get<string | undefined>(AUDIT_REQUEST_ID) : undefined;
    return [isUuid(actor) ? actor : null, typeof request === 'string' && REQUEST_ID.test(request) ? request : null];
  }
}
