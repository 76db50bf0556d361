import { Module } from '@nestjs/common';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController } from './health.controller';
import { HealthRedis } from './health-redis';

@Module({
  imports: [TerminusModule],
  controllers: [HealthController],
  providers: [HealthRedis],
})
export class HealthModule {}
