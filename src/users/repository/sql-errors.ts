import type { TableNames } from '../../database/table-names';
import { pgErrorOf, SQLSTATE } from '../../errors/database-errors';
import { UserAlreadyExistsError, UserValidationError, type ConflictDetail } from '../users.errors';

// PostgreSQL errors never leave the repository raw: a unique violation on the live-email index
// becomes UserAlreadyExistsError naming the email; anything else is rethrown untouched.
export function translateWriteError(error: unknown, names: TableNames, conflicts?: ConflictDetail[]): unknown {
  const pg = pgErrorOf(error);
  if (pg?.code === SQLSTATE.UNIQUE_VIOLATION && pg.constraint === names.objectName('UQ_users_email_normalized_live')) {
    const email = /\(email_normalized\)=\((.*)\) already exists/.exec(pg.detail ?? '')?.[1];
    return new UserAlreadyExistsError(conflicts ?? (email ? [{ email }] : []));
  }
  return error;
}

// An imported id another writer took between the import's check and its insert.
export function translateIdConflict(error: unknown, names: TableNames): unknown {
  const pg = pgErrorOf(error);
  if (pg?.code === SQLSTATE.UNIQUE_VIOLATION && pg.constraint === names.objectName('PK_users')) return UserValidationError.field('id', 'an imported id was taken meanwhile');
  return error;
}
