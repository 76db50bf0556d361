import { Controller, Get } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService, type HealthCheckResult, type HealthIndicatorResult } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '../users/auth/public.decorator';
import { AppConfig } from '../config/app-config';
import { retryIdempotentOnLostConnection } from '../errors/database-errors';
import { NoThrottle } from '../throttling/throttling.decorators';
import { HealthRedis } from './health-redis';

// While the app drains for shutdown every route, these included, answers 503 SHUTTING_DOWN
// (app.factory.ts), so a load balancer stops sending traffic before the process goes.
@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
    private readonly redis: HealthRedis,
  ) {}

  // The process answers; no dependency is asked, so an outage never gets the process restarted.
  @Get('live')
  @Public()
  @NoThrottle()
  @ApiOperation({ operationId: 'getHealthLive', summary: 'Liveness: the process answers (no dependency checked)', security: [] })
  @ApiOkResponse({ schema: { type: 'object', properties: { status: { type: 'string', enum: ['ok'] } } } })
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('ready')
  @Public()
  @NoThrottle()
  @HealthCheck()
  @ApiOperation({
    operationId: 'getHealthReady',
    summary: 'Readiness: PostgreSQL reachable (503 otherwise); Redis, when configured, reported degraded while down (still 200)',
    security: [],
  })
  ready(): Promise<HealthCheckResult> {
    return this.health.check([() => this.database(), ...(this.redis.configured ? [() => this.redisStatus()] : [])]);
  }

  // Kept for the probes and scripts that call it: the readiness check.
  @Get()
  @Public()
  @NoThrottle()
  @HealthCheck()
  @ApiOperation({ operationId: 'getHealth', summary: 'Same as /health/ready', security: [] })
  check(): Promise<HealthCheckResult> {
    return this.ready();
  }

  private database(): PromiseLike<HealthIndicatorResult<'database'>> {
    return this.indicators
      .check('database')
      .attempt(() => retryIdempotentOnLostConnection(() => this.dataSource.query('SELECT 1'), this.config.databasePoolMax + 1))
      .withTimeout(2000);
  }

  // Redis holds only the cache and the rate-limit counters, both of which fall back to this
  // process while it is down: the instance stays ready, and says it is degraded.
  private async redisStatus(): Promise<HealthIndicatorResult<'redis'>> {
    const indicator = this.indicators.check('redis');
    try {
      await this.redis.ping();
      return indicator.up();
    } catch (error) {
      return indicator.degraded({ message: error instanceof Error ? error.message : String(error) });
    }
  }
}
