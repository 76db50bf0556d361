import { randomBytes } from 'node:crypto';
import { verify } from '@node-rs/argon2';
import {
  Body,
  Controller,
  Get,
  HttpCode,
  Inject,
  Injectable,
  Module,
  NotFoundException,
  Param,
  Post,
  UnauthorizedException,
  UseGuards,
  type DynamicModule,
  type OnModuleDestroy,
} from '@nestjs/common';
import { JwtService } from '@nestjs/jwt';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { InjectRepository, TypeOrmModule } from '@nestjs/typeorm';
import { Pool } from 'pg';
import { IsNull, Repository } from 'typeorm';
import { createApp } from '../src/app.factory';
import { AppModule } from '../src/app.module';
import { Roles } from '../src/users/auth/roles.decorator';
import { RolesGuard } from '../src/users/auth/roles.guard';
import { UsersAuthGuard } from '../src/users/auth/users-auth.guard';
import { AppConfig } from '../src/config/app-config';
import { NoThrottle } from '../src/throttling/throttling.decorators';
import { toUser, type UserRow } from '../src/users/user-row';
import { UserEntity } from '../src/users/user.entity';
import type { ReferenceRoutes } from './context';

// What the reference routes answer with (set by the HTTP rows before they load them).
const REFERENCE_ROUTES = Symbol('bench:referenceRoutes');

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

// Reference and boilerplate routes, mounted only in the bench's app. They declare the same role and
// throttling as GET /users/:id and cross the same authentication and role guards; only the work
// behind them differs.
@Roles('admin')
@UseGuards(UsersAuthGuard, RolesGuard)
@Controller('bench')
class BenchReferenceController {
  constructor(
    @Inject(REFERENCE_ROUTES) private readonly routes: ReferenceRoutes,
    private readonly bare: BarePool,
    @InjectRepository(UserEntity) private readonly boilerplate: Repository<UserEntity>,
  ) {}

  // A real user, so that this route and GET /users/:id serialize the same amount of JSON.
  @Get('fixed')
  @NoThrottle()
  fixedUser(): object {
    return this.routes.fixedBody;
  }

  // The repository's by-id statement, as a cache miss sent it (prepared under the same name when
  // it was), with this request's id, on a bare pool.
  @Get('users/:id')
  @NoThrottle()
  async bareUser(@Param('id') id: string): Promise<object> {
    const byId = this.routes.userById;
    if (!byId) throw new Error("the repository's by-id statement has not been captured");
    const { name, text, values } = byId.statement;
    const { rows } = await this.bare.pool.query<UserRow>({ name, text, values: values.map((value) => (value === byId.id ? id : value)) });
    if (!rows[0]) throw new NotFoundException();
    return toUser(rows[0]);
  }

  // What the NestJS + TypeORM boilerplate writes: findOneBy on the entity's repository, no cache,
  // and the entity without its hash as the body (its serializer's @Exclude()).
  @Get('boilerplate/users/:id')
  @NoThrottle()
  async boilerplateUser(@Param('id') id: string): Promise<object> {
    const user = await this.boilerplate.findOneBy({ id, deletedAt: IsNull() });
    if (!user) throw new NotFoundException();
    const { hashedPassword: _hash, ...body } = user;
    return body;
  }
}

// The boilerplate's login: the user by (lower-cased) email through the entity's repository, the
// stored hash verified, a token signed. No attempt limits, audit row or last-login update.
@Controller('bench/boilerplate')
class BoilerplateLoginController {
  private readonly jwt = new JwtService({ secret: randomBytes(32).toString('base64url'), signOptions: { expiresIn: 900 } });

  constructor(@InjectRepository(UserEntity) private readonly boilerplate: Repository<UserEntity>) {}

  @Post('login')
  @HttpCode(200)
  async login(@Body() body: { email: string; password: string }): Promise<{ accessToken: string }> {
    const user = await this.boilerplate.findOneBy({ emailNormalized: body.email.toLowerCase(), deletedAt: IsNull() });
    if (!user || !user.isActive || !(await verify(user.hashedPassword, body.password))) throw new UnauthorizedException();
    return { accessToken: await this.jwt.signAsync({ sub: user.id, roles: user.roles }) };
  }
}

@Module({})
class BenchAppModule {
  static forRoot(config: AppConfig, routes: ReferenceRoutes): DynamicModule {
    return {
      module: BenchAppModule,
      imports: [AppModule.forRoot(config), TypeOrmModule.forFeature([UserEntity])],
      controllers: [BenchReferenceController, BoilerplateLoginController],
      providers: [BarePool, { provide: REFERENCE_ROUTES, useValue: routes }],
    };
  }
}

// The product app, built by the product's own createApp, with the reference routes beside it.
export async function startBenchApp(config: AppConfig, routes: ReferenceRoutes): Promise<{ app: NestFastifyApplication; baseUrl: string }> {
  const app = await createApp(config, BenchAppModule.forRoot(config, routes));
  await app.listen({ port: 0, host: '127.0.0.1' });
  const address = app.getHttpServer().address();
  if (!address || typeof address === 'string') throw new Error('the bench app has no TCP address');
  return { app, baseUrl: `http://127.0.0.1:${address.port}` };
}
