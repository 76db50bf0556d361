import { Controller, Get, Inject, Injectable, Module, NotFoundException, Param, UseGuards, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { Pool } from 'pg';
import { createApp } from '../src/app.factory';
import { AppModule } from '../src/app.module';
import { Roles } from '../src/users/auth/roles.decorator';
import { RolesGuard } from '../src/users/auth/roles.guard';
import { UsersAuthGuard } from '../src/users/auth/users-auth.guard';
import { AppConfig } from '../src/config/app-config';
import { NoThrottle } from '../src/throttling/throttling.decorators';
import { toUser, USER_COLUMNS, type UserRow } from '../src/users/user-row';

// The body the fixed-JSON reference route returns: a real user, so both routes serialize the same
// amount of JSON.
export const FIXED_BODY = Symbol('bench:fixedBody');

// A pg pool of the app's size, outside TypeORM, for the bare-query reference route.
@Injectable()
export class BarePool implements OnModuleDestroy {
  readonly pool: Pool;

  constructor(config: AppConfig) {
    this.pool = new Pool({ connectionString: config.databaseUrl, max: config.databasePoolMax });
    // An idle client's error (the server stopping at the end of the run) must not crash the bench.
    this.pool.on('error', () => undefined);
  }

  async onModuleDestroy(): Promise<void> {
    await this.pool.end();
  }
}

const USER_BY_ID = `SELECT ${USER_COLUMNS} FROM users u WHERE u.id = $1 AND u.deleted_at IS NULL`;

// Reference routes, mounted only in the bench's app. They declare the same role and throttling as
// GET /users/:id and cross the same authentication and role guards; only the work behind them differs.
@Roles('admin')
@UseGuards(UsersAuthGuard, RolesGuard)
@Controller('bench')
class BenchReferenceController {
  constructor(
    @Inject(FIXED_BODY) private readonly fixed: object,
    private readonly bare: BarePool,
  ) {}

  @Get('fixed')
  @NoThrottle()
  fixedUser(): object {
    return this.fixed;
  }

  // The repository's by-id query as a named prepared statement on a bare pool.
  @Get('users/:id')
  @NoThrottle()
  async bareUser(@Param('id') id: string): Promise<object> {
    const { rows } = await this.bare.pool.query<UserRow>({ name: 'bench-user-by-id', text: USER_BY_ID, values: [id] });
    if (!rows[0]) throw new NotFoundException();
    return toUser(rows[0]);
  }
}

@Module({})
class BenchAppModule {
  static forRoot(config: AppConfig, fixedBody: object): DynamicModule {
    return {
      module: BenchAppModule,
      imports: [AppModule.forRoot(config)],
      controllers: [BenchReferenceController],
      providers: [BarePool, { provide: FIXED_BODY, useValue: fixedBody }],
    };
  }
}

// The product app, built by the product's own createApp, with the reference routes beside it.
export async function startBenchApp(config: AppConfig, fixedBody: object): Promise<{ app: NestFastifyApplication; baseUrl: string }> {
  const app = await createApp(config, BenchAppModule.forRoot(config, fixedBody));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  if (!address || typeof address === 'string') throw new Error('the bench app has no TCP address');
  return { app, baseUrl: `http://127.0.0.1:${address.port}` };
}
