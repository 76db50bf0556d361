import { FASTIFY_ROUTE_CONFIG_METADATA } from '@nestjs/platform-fastify/constants';
import { FASTIFY_ROUTE_CONFIG } from './body-limits';

describe('body limits', () => {
  it("writes the route config under @nestjs/platform-fastify's own metadata key", () => {
    expect(FASTIFY_ROUTE_CONFIG).toBe(FASTIFY_ROUTE_CONFIG_METADATA);
  });
});
