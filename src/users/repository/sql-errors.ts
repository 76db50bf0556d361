import type { TableNames } from '../../database/table-names';
import { UserAlreadyExistsError, type ConflictDetail } from '../users.errors';

const UNIQUE_VIOLATION = '23505';

interface PgError {
  code?: string;
  constraint?: string;
  detail?: string;
  driverError?: PgError;
}

// PostgreSQL errors never leave the repository raw: a unique violation on the live-email index
// becomes UserAlreadyExistsError naming the email; anything else is rethrown untouched.
export function translateWriteError(error: unknown, names: TableNames, conflicts?: ConflictDetail[]): unknown {
  const pg = ((error as PgError)?.driverError ?? error) as PgError | undefined;
  if (pg?.code === UNIQUE_VIOLATION && pg.constraint === names.objectName('UQ_users_email_normalized_live')) {
    const email = /\(email_normalized\)=\((.*)\) already exists/.exec(pg.detail ?? '')?.[1];
    return new UserAlreadyExistsError(conflicts ?? (email ? [{ email }] : []));
  }
  return error;
}
