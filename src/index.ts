// The package's one public entry (package.json `exports`): what a host app may import. Everything
// else under dist/ is internal and may change without notice; the app's own entry points
// (main, app.factory, config, CLIs) are not part of the package's API.

// The module and its options
export { UsersModule, USERS_MODULE_OPTIONS } from './users/users.module';
export type { UsersModuleAsyncOptions, UsersModuleDefinition, UsersModuleOptions, UsersModuleSettings } from './users/users.options';

// The data layer a host injects, and the admin policy over it
export { UsersRepository } from './users/users.repository';
export { UsersService, type Actor } from './users/users.service';

// User lifecycle events: subscribe in a sibling module with UsersEvents.on()
export { UsersEvents, type EventDestination, type UserEventHandler } from './users/events/users-events.service';
export { USER_EVENT_TYPES, type UserEvent, type UserEventType } from './users/events/user-event';
export { EventDeliveries, type DeliveryQuery, type DeliveryStatus, type EventDelivery } from './users/events/event-deliveries.service';
// The retention policy for dormant users: run it (or its dry run) from your own code.
export { RetentionPolicy, type RetentionReport } from './users/retention/retention-policy.service';
export type { RetentionSettings } from './users/retention/retention.settings';
export type { KeysetPage, NewUser, Page, PageOptions, User, UserAuthState, UserCredentials, UserDefaults, UserFile, UserPatch, UserWithFiles } from './users/user.model';
export type { PreparedNewUser } from './users/repository/user-writes';
export type { UserFilter } from './users/repository/user-reads';
export type { ExportOptions, ImportOptions, ImportRow, PreparedImport } from './users/repository/user-transfer';
export type { ConflictPolicy } from './users/repository/user-store';
export type { AuditContext, AuditEntry } from './audit/audit-log.service';
export type { DbSession } from './database/db.service';

// Responses without secrets, as the module's routes send them
export {
  toKeysetPage,
  toUserPage,
  toUserResponse,
  toUserWithFilesResponse,
  UserFileResponseDto,
  UserKeysetPageDto,
  UserPageDto,
  UserResponseDto,
  UserWithFilesResponseDto,
} from './users/dto/user-response.dto';

// Errors: one code each, one HTTP status each through ErrorsFilter
export {
  DatabaseUnavailableError,
  DomainError,
  ErrorCode,
  ForbiddenError,
  GuardrailError,
  RateLimitExceededError,
  ShuttingDownError,
  UnauthenticatedError,
  ValidationFailedError,
  type FieldIssue,
} from './errors/domain-error';
export { ConcurrentUpdateError, UserAlreadyExistsError, UserNotFoundError, UserValidationError, type ConflictDetail } from './users/users.errors';
export { ErrorsFilter } from './errors/errors.filter';

// Migrations with the host's DataSource, under the schema/tablePrefix naming
export { runUsersMigrations, usersMigrations, type MigrationClass } from './users/users-migrations';
export type { TableNaming } from './database/table-names';

// Guards and decorators for the host's own routes: @UseGuards(UsersAuthGuard, RolesGuard) @Roles('admin')
export { UsersAuthGuard } from './users/auth/users-auth.guard';
export { RolesGuard } from './users/auth/roles.guard';
export { Roles } from './users/auth/roles.decorator';
export { Public } from './users/auth/public.decorator';
export { CurrentUser, type AuthenticatedUser } from './users/auth/authenticated-user';
