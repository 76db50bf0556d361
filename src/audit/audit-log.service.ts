import { Injectable } from '@nestjs/common';
import type { Page, PageOptions } from '../users/user.model';

export interface AuditEntry {
  id: string;
  userId: string | null;
  actorId: string | null;
  action: string;
  details: Record<string, unknown>;
  requestId: string | null;
  createdAt: Date;
}

// Append-only audit trail. (Being implemented; see issue 3.)
@Injectable()
export class AuditLog {
  auditLogUserChange(_userId: string | null, _action: string, _details: Record<string, unknown> | string = ''): Promise<void> {
    throw new Error('auditLogUserChange is not implemented yet');
  }

  getAuditLog(_userId: string, _options?: PageOptions): Promise<Page<AuditEntry>> {
    throw new Error('getAuditLog is not implemented yet');
  }
}
