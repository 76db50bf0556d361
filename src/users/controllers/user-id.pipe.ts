import { Injectable, type PipeTransform } from '@nestjs/common';
import { isUuid } from '../../common/paging';
import { UserNotFoundError } from '../users.errors';

// A user id from the path in its one canonical (lower-case) form: PostgreSQL compares uuids
// regardless of case, so the guardrails and rate limits must too. Anything else names no user.
@Injectable()
export class UserIdPipe implements PipeTransform<string, string> {
  transform(value: string): string {
    if (!isUuid(value)) throw new UserNotFoundError(String(value).slice(0, 64));
    return value.toLowerCase();
  }
}
