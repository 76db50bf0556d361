import type { User, UserAuthState } from './user.model';

// The columns every user read selects: an allow-list, so the hash can never slip into a result.
export const USER_COLUMNS = `u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact`;

// Every change to a user row bumps its version (the ETag, and what tokens are checked against)
// and its update time; statements alias the table `u`.
export const BUMP_VERSION = 'version = u.version + 1, updated_at = now()';

export interface UserRow {
  id: string;
  email: string;
  full_name: string | null;
  is_active: boolean;
  is_deleted: boolean;
  deleted_at: Date | null;
  roles: string[];
  metadata: Record<string, unknown>;
  created_at: Date;
  updated_at: Date;
  last_login_at: Date | null;
  version: number;
  created_at_exact: string;
}

export function toUser(row: UserRow): User {
  return {
    id: row.id,
    email: row.email,
    fullName: row.full_name,
    isActive: row.is_active,
    isDeleted: row.is_deleted,
    deletedAt: row.deleted_at,
    roles: row.roles,
    metadata: row.metadata,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    lastLoginAt: row.last_login_at,
    version: row.version,
  };
}

// A user read with `u.token_epoch::text AS token_epoch` besides USER_COLUMNS.
export function toUserAuthState(row: UserRow & { token_epoch: string }): UserAuthState {
  return { ...toUser(row), tokenEpoch: row.token_epoch };
}

// The User every caller but the auth guard sees: the epoch stays inside the data layer.
export function withoutTokenEpoch(state: UserAuthState): User {
  const user: User & { tokenEpoch?: string } = { ...state };
  delete user.tokenEpoch;
  return user;
}
