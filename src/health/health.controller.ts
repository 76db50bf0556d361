import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '../users/auth/public.decorator';
import { AppConfig } from '../config/app-config';
import { retryIdempotentOnLostConnection } from '../errors/database-errors';
import { NoThrottle } from '../throttling/throttling.decorators';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
    private readonly config: AppConfig,
  ) {}

  @Get()
  @Public()
  @NoThrottle()
  @HealthCheck()
  @ApiOperation({ operationId: 'getHealth', summary: 'Liveness and database reachability', security: [] })
  check() {
    return this.health.check([
      () =>
        this.indicators
          .check('database')
          .attempt(() => retryIdempotentOnLostConnection(() => this.dataSource.query('SELECT 1'), this.config.databasePoolMax + 1))
          .withTimeout(2000),
    ]);
  }
}
