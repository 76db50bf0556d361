import { Injectable, type PipeTransform } from '@nestjs/common';
import { ValidationFailedError, type FieldIssue } from '../../errors/domain-error';
import { canonicalEmail, emailProblem } from '../email';
import { BulkCreateDto } from '../dto/bulk.dto';
import { bulkItemIssues, repeatedEmails } from '../user-rules';
import type { NewUser } from '../user.model';
import { bodyIssues } from '../../validation/validation.pipe';

// POST /users/bulk is all or nothing, so one 400 lists every invalid item by index, whichever
// layer finds it: the DTO's schema, the repository's item rules (password or hash, control
// characters, ...) and, once some item is invalid, the duplicates inside the batch. Each issue is
// `{ field: 'users.<i>.<name>', reason, index }`. A batch whose only problem is duplicates goes on
// to the repository, which answers 409 with every conflict (inside the batch and with live users).
@Injectable()
export class BulkCreateBodyPipe implements PipeTransform<unknown, Promise<NewUser[]>> {
  async transform(body: unknown): Promise<NewUser[]> {
    const schema = (await bodyIssues(BulkCreateDto, body)).map((i) => withIndex(i.field, i.reason));
    const items: unknown = (body as { users?: unknown } | null)?.users;
    const list = Array.isArray(items) ? (items as unknown[]) : [];
    const rules = bulkItemIssues(list).map((i) => (i.index === undefined ? i : withIndex(itemPath(i.index, i.field), i.reason)));
    const reported = reportedFields(schema);
    const unseen = rules.filter((rule) => !reported.covers(rule.field));
    if (schema.length === 0 && unseen.length === 0) return list as NewUser[];
    const issues = [...schema, ...unseen, ...duplicateIssues(list)];
    throw new ValidationFailedError(issues.sort((a, b) => (a.index ?? -1) - (b.index ?? -1) || a.field.localeCompare(b.field)));
  }
}

function itemPath(index: number, field: string): string {
  return field === 'user' ? `users.${index}` : `users.${index}.${field}`;
}

function withIndex(field: string, reason: string): FieldIssue {
  const item = /^users\.(\d+)(?:\.|$)/.exec(field);
  return item ? { field, reason, index: Number(item[1]) } : { field, reason };
}

// Whether the schema already spoke about a field: the same field, one inside it (`users.2.email`
// covers `users.2`) or one around it (`users.2` covers `users.2.email`). Sets, not a scan of every
// schema issue per rule: a bulk body has up to 10,000 items, each with many issues.
function reportedFields(schema: FieldIssue[]): { covers(field: string): boolean } {
  const fields = new Set<string>();
  const enclosing = new Set<string>();
  for (const { field } of schema) {
    fields.add(field);
    for (let dot = field.indexOf('.'); dot >= 0; dot = field.indexOf('.', dot + 1)) enclosing.add(field.slice(0, dot));
  }
  return {
    covers(field: string): boolean {
      if (fields.has(field) || enclosing.has(field)) return true;
      for (let dot = field.indexOf('.'); dot >= 0; dot = field.indexOf('.', dot + 1)) if (fields.has(field.slice(0, dot))) return true;
      return false;
    },
  };
}

function duplicateIssues(items: unknown[]): FieldIssue[] {
  const emails = items.map((item) => {
    const email: unknown = (item as { email?: unknown } | null)?.email;
    return typeof email === 'string' && emailProblem(email) === undefined ? canonicalEmail(email) : undefined;
  });
  return repeatedEmails(emails).map(({ index, first }) => ({ field: `users.${index}.email`, reason: `is the same address as users.${first}.email`, index }));
}
