import { SetMetadata } from '@nestjs/common';

export const ROLES_KEY = 'auth:roles';
// In a declaration, the module's admin roles (the adminRoles option, default ['admin']).
export const ADMIN = 'admin';

// Every authenticated route states who may call it. `@Roles()` with no role means any
// authenticated caller; `@Roles('admin')` needs that role. A route without a declaration is
// refused (fail closed) and flagged by the route meta-test.
export const Roles = (...roles: string[]) => SetMetadata(ROLES_KEY, roles);
