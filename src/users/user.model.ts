import type { KeysetPage, Page, PageOptions } from '../common/paging';

export type { KeysetPage, Page, PageOptions };
// A user as every caller sees it. The password hash is deliberately absent: only
// UsersRepository.getCredentialsByEmail and getCredentialsById return it, for the auth module.
export interface User {
  id: string;
  email: string;
  fullName: string | null;
  isActive: boolean;
  isDeleted: boolean;
  deletedAt: Date | null;
  roles: string[];
  metadata: Record<string, unknown>;
  createdAt: Date;
  updatedAt: Date;
  lastLoginAt: Date | null;
  version: number;
}

export interface UserFile {
  id: string;
  filename: string;
  contentType: string;
  sizeBytes: number;
  createdAt: Date;
}

export interface UserWithFiles extends User {
  files: UserFile[];
}

// A user with the epoch its access tokens are bound to: only the auth guard reads this (through
// UsersRepository.getUserAuthState); every other read returns a plain User.
export interface UserAuthState extends User {
  tokenEpoch: string;
}

export interface UserCredentials {
  id: string;
  hashedPassword: string;
  isActive: boolean;
  roles: string[];
  version: number;
  tokenEpoch: string;
}

export interface UserDefaults {
  fullName?: string | null;
  isActive?: boolean;
  roles?: string[];
  metadata?: Record<string, unknown>;
  hashedPassword?: string;
}

export interface NewUser {
  email: string;
  password?: string;
  hashedPassword?: string;
  fullName?: string | null;
  isActive?: boolean;
  roles?: string[];
  metadata?: Record<string, unknown>;
}

export interface UserPatch {
  email?: string;
  fullName?: string | null;
  isActive?: boolean;
  metadata?: Record<string, unknown>;
}
