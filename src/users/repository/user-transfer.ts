import { Injectable } from '@nestjs/common';
import type { Readable } from 'node:stream';
import type { NewUser, User } from '../user.model';

export interface ExportOptions {
  withDeleted?: boolean;
}

export interface ImportOptions {
  dryRun?: boolean;
  onConflict?: 'error' | 'skip' | 'update';
}

// Streaming CSV/JSON export and all-or-nothing import. (Being implemented; see issue 3.)
@Injectable()
export class UserTransfer {
  exportUsersToCsv(_options: ExportOptions = {}): Promise<Readable> {
    throw new Error('exportUsersToCsv is not implemented yet');
  }

  exportUsersToJson(_options: ExportOptions = {}): Promise<Readable> {
    throw new Error('exportUsersToJson is not implemented yet');
  }

  importUsersFromDicts(_userDicts: NewUser[], _options: ImportOptions = {}): Promise<User[]> {
    throw new Error('importUsersFromDicts is not implemented yet');
  }
}
