import { Controller, Get, Inject, Injectable, Module, NotFoundException, Param, type DynamicModule, type OnModuleDestroy } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import helmet from '@fastify/helmet';
import { Logger } from 'nestjs-pino';
import { Pool } from 'pg';
import { AppModule } from '../src/app.module';
import { Roles } from '../src/auth/roles.decorator';
import { AppConfig } from '../src/config/app-config';
import { requestIdFor } from '../src/logging/logging.module';
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
// GET /users/:id, so they cross the same guards; only the work behind them differs.
@Roles('admin')
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

// The product app with the reference routes beside it. createApp (src/app.factory.ts) takes no
// root module, so this repeats what it does on every request: the adapter's options, the
// x-request-id hook and helmet's headers. Its OpenAPI document and CSV body parser are left out;
// no measured route uses them.
export async function startBenchApp(config: AppConfig, fixedBody: object): Promise<{ app: NestFastifyApplication; baseUrl: string }> {
  const adapter = new FastifyAdapter({
    trustProxy: config.trustProxy as boolean | string,
    bodyLimit: config.bodyLimitBytes,
    genReqId: requestIdFor,
    return503OnClosing: true,
  });
  adapter.getInstance().addHook('onRequest', (request, reply, done) => {
    void reply.header('x-request-id', request.id);
    done();
  });
  const app = await NestFactory.create<NestFastifyApplication>(BenchAppModule.forRoot(config, fixedBody), adapter, { bufferLogs: true });
  app.useLogger(app.get(Logger));
  await app.register(helmet, { contentSecurityPolicy: false });
  await app.init();
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  if (!address || typeof address === 'string') throw new Error('the bench app has no TCP address');
  return { app, baseUrl: `http://127.0.0.1:${address.port}` };
}
