import { Controller, Get, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode } from '../../errors/domain-error';
import type { AuthenticatedUser } from './authenticated-user';
import { Public } from './public.decorator';
import { Roles } from './roles.decorator';
import { RolesGuard } from './roles.guard';
import type { UsersSettings } from '../users.options';

@Controller('probe')
class ProbeController {
  @Get('admin')
  @Roles('admin')
  admin() {}

  @Get('staff')
  @Roles('admin', 'support')
  staff() {}

  @Get('any')
  @Roles()
  any() {}

  @Get('open')
  @Public()
  open() {}

  @Get('undeclared')
  undeclared() {}
}

@Roles('admin')
@Controller('class-level')
class ClassLevelController {
  @Get()
  list() {}
}

// The handler and class a request would reach, and the user JwtAuthGuard attached.
function contextFor(controller: new () => object, handler: string, user?: AuthenticatedUser): ExecutionContext {
  return {
    getHandler: () => (controller.prototype as Record<string, unknown>)[handler],
    getClass: () => controller,
    switchToHttp: () => ({ getRequest: () => ({ user }) }),
  } as unknown as ExecutionContext;
}

const caller = (...roles: string[]): AuthenticatedUser => ({ id: '00000000-0000-4000-8000-000000000001', roles, version: 1 });

describe('RolesGuard', () => {
  const guard = new RolesGuard(new Reflector(), { adminRoles: ['admin'] } as UsersSettings);

  it('lets a caller with one of the declared roles through', () => {
    expect(guard.canActivate(contextFor(ProbeController, 'admin', caller('user', 'admin')))).toBe(true);
    expect(guard.canActivate(contextFor(ProbeController, 'staff', caller('support')))).toBe(true);
    expect(guard.canActivate(contextFor(ClassLevelController, 'list', caller('admin')))).toBe(true);
  });

  it('refuses a caller without the role with FORBIDDEN', () => {
    expect(() => guard.canActivate(contextFor(ProbeController, 'admin', caller('user')))).toThrow(expect.objectContaining({ code: ErrorCode.FORBIDDEN }));
    expect(() => guard.canActivate(contextFor(ClassLevelController, 'list', caller('user')))).toThrow(expect.objectContaining({ code: ErrorCode.FORBIDDEN }));
  });

  it('lets any authenticated caller through @Roles() with no role', () => {
    expect(guard.canActivate(contextFor(ProbeController, 'any', caller()))).toBe(true);
  });

  it('ignores public routes', () => {
    expect(guard.canActivate(contextFor(ProbeController, 'open'))).toBe(true);
  });

  it('refuses a route that declares no roles, whoever calls it', () => {
    expect(() => guard.canActivate(contextFor(ProbeController, 'undeclared', caller('admin')))).toThrow(
      expect.objectContaining({ code: ErrorCode.FORBIDDEN, message: 'This route declares no roles' }),
    );
  });

  it("reads @Roles('admin') as the module's adminRoles", () => {
    const staffAdmins = new RolesGuard(new Reflector(), { adminRoles: ['owner', 'operator'] } as UsersSettings);
    expect(staffAdmins.canActivate(contextFor(ProbeController, 'admin', caller('operator')))).toBe(true);
    expect(() => staffAdmins.canActivate(contextFor(ProbeController, 'admin', caller('admin')))).toThrow(
      expect.objectContaining({ code: ErrorCode.FORBIDDEN, message: 'Requires role owner or operator' }),
    );
  });

  it('answers UNAUTHENTICATED when no user was attached', () => {
    expect(() => guard.canActivate(contextFor(ProbeController, 'any'))).toThrow(expect.objectContaining({ code: ErrorCode.UNAUTHENTICATED }));
  });
});
