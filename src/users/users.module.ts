import { Module } from '@nestjs/common';
import { AuditLog } from '../audit/audit-log.service';
import { UserCacheModule } from '../cache/cache.module';
import { SensitiveActions } from '../throttling/sensitive-actions.service';
import { ThrottlerStorageModule } from '../throttling/throttler-storage.module';
import { UserBulk } from './repository/user-bulk';
import { UserPrivacy } from './repository/user-privacy';
import { UserReads } from './repository/user-reads';
import { UserTransfer } from './repository/user-transfer';
import { UserWrites } from './repository/user-writes';
import { UsersRepository } from './users.repository';

@Module({
  imports: [UserCacheModule, ThrottlerStorageModule],
  providers: [UserReads, UserWrites, UserBulk, UserTransfer, UserPrivacy, AuditLog, SensitiveActions, UsersRepository],
  exports: [UsersRepository],
})
export class UsersModule {}
