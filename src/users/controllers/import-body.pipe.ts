import { Injectable, type PipeTransform } from '@nestjs/common';
import { ValidationFailedError } from '../../errors/domain-error';
import { ImportBodyDto } from '../dto/bulk.dto';
import { MAX_BULK_ITEMS } from '../user-rules';
import { parseUsersCsv } from '../users-csv';
import { bodyIssues } from '../../validation/validation.pipe';

// POST /users/import takes JSON {users:[...]} (validated like every DTO) or a text/csv body,
// whose cells are strings that the repository's import parses and validates row by row.
@Injectable()
export class ImportBodyPipe implements PipeTransform<unknown, Promise<Record<string, unknown>[]>> {
  async transform(body: unknown): Promise<Record<string, unknown>[]> {
    if (typeof body === 'string') {
      const rows = parseUsersCsv(body);
      if (rows.length > MAX_BULK_ITEMS) throw new ValidationFailedError([{ field: 'users', reason: `at most ${MAX_BULK_ITEMS} rows per import` }]);
      return rows;
    }
    const issues = await bodyIssues(ImportBodyDto, body);
    if (issues.length) throw new ValidationFailedError(issues);
    return (body as { users: Record<string, unknown>[] }).users;
  }
}
