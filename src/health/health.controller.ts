import { Controller, Get } from '@nestjs/common';
import { ApiOperation, ApiTags } from '@nestjs/swagger';
import { HealthCheck, HealthCheckService, HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { Public } from '../auth/public.decorator';
import { retryOnTerminatedSession } from '../errors/database-errors';
import { NoThrottle } from '../throttling/throttling.decorators';

@ApiTags('health')
@Controller('health')
export class HealthController {
  constructor(
    private readonly health: HealthCheckService,
    private readonly indicators: HealthIndicatorService,
    private readonly dataSource: DataSource,
  ) {}

  @Get()
  @Public()
  @NoThrottle()
  @HealthCheck()
  @ApiOperation({ operationId: 'getHealth', summary: 'Liveness and database reachability' })
  check() {
    return this.health.check([
      () =>
        this.indicators
          .check('database')
          .attempt(() => retryOnTerminatedSession(() => this.dataSource.query('SELECT 1')))
          .withTimeout(2000),
    ]);
  }
}
