import { VersioningType, type INestApplication, type Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { ExpressAdapter } from '@nestjs/platform-express';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { Client } from 'pg';

// A host app around UsersModule, as a team would create it, on either adapter: no global guard,
// filter or pipe of its own. Under Express the body parser is off by default, as the README asks.

export const ADAPTERS = ['fastify', 'express'] as const;
export type AdapterName = (typeof ADAPTERS)[number];

export interface HostOptions {
  bodyParser?: boolean;
  globalPrefix?: string;
  uriVersioning?: boolean;
}

export async function createHost(root: Type, adapter: AdapterName, options: HostOptions = {}): Promise<INestApplication> {
  const app =
    adapter === 'fastify'
      ? await NestFactory.create<NestFastifyApplication>(root, new FastifyAdapter(), { logger: false, abortOnError: false })
      : await NestFactory.create(root, new ExpressAdapter(), { logger: false, bodyParser: options.bodyParser ?? false, abortOnError: false });
  if (options.globalPrefix) app.setGlobalPrefix(options.globalPrefix);
  if (options.uriVersioning) app.enableVersioning({ type: VersioningType.URI, defaultVersion: '1' });
  return app;
}

export async function listenHost(root: Type, adapter: AdapterName, options: HostOptions = {}): Promise<INestApplication> {
  const app = await createHost(root, adapter, options);
  await app.listen(0, '127.0.0.1');
  return app;
}

// One statement on a connection of its own, outside any app (what the host's DBA would see).
export async function sqlOn<T = Record<string, unknown>>(url: string, text: string, values: unknown[] = []): Promise<T[]> {
  const client = new Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query(text, values)).rows as T[];
  } finally {
    await client.end();
  }
}
