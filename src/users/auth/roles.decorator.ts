import { SetMetadata } from '@nestjs/common';

export const ROLES_KEY = 'auth:roles';

// Every authenticated route states who may call it. `@Roles()` with no role means any
// authenticated caller; `@Roles('admin')` needs that role. A route without a declaration is
// refused (fail closed) and flagged by the route meta-test.
export const Roles = (...roles: string[]) => SetMetadata(ROLES_KEY, roles);
