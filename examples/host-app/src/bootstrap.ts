import 'reflect-metadata';
import type { INestApplication } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter } from '@nestjs/platform-fastify';

export type HostAdapter = 'express' | 'fastify';

export function hostAdapter(value: string | undefined): HostAdapter {
  const adapter = value ?? 'fastify';
  if (adapter !== 'express' && adapter !== 'fastify') throw new Error(`HOST_ADAPTER must be express or fastify, got ${adapter}`);
  return adapter;
}

// The same module on either HTTP adapter; main.ts and the tests start the app through this.
// abortOnError false: a failed boot (or app.get of a missing provider) rejects instead of ending
// the process, so the caller sees the error.
export function createHostApp(module: object, adapter: HostAdapter, logger: ('log' | 'error' | 'warn')[] = ['log', 'error', 'warn']): Promise<INestApplication> {
  const httpAdapter = adapter === 'fastify' ? new FastifyAdapter() : new ExpressAdapter();
  return NestFactory.create(module, httpAdapter, { logger, abortOnError: false });
}
