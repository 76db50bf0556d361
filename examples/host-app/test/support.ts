import type { INestApplication } from '@nestjs/common';
import { RequestMethod } from '@nestjs/common';
import { METHOD_METADATA, PATH_METADATA } from '@nestjs/common/constants';
import { ModulesContainer } from '@nestjs/core';
import type { AddressInfo } from 'node:net';
import { Client } from 'pg';
import { hostAdapter } from '../src/bootstrap';
import { HostConfig } from '../src/host-config';

export const adapter = hostAdapter(process.env.HOST_ADAPTER);

// DATABASE_URL: a fresh, empty database (the orchestrating test in the repo creates one per run).
export function testConfig(): HostConfig {
  const databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) throw new Error('DATABASE_URL must name a fresh database');
  return new HostConfig(databaseUrl, 'host-app-test-secret-0123456789abcdef', { email: 'root@host.example', password: 'Host-admin-passphrase-7281!' });
}

export async function withDatabase<T>(work: (client: Client) => Promise<T>): Promise<T> {
  const client = new Client({ connectionString: testConfig().databaseUrl });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

export async function listen(app: INestApplication): Promise<string> {
  await app.listen(0, '127.0.0.1');
  const { port } = app.getHttpServer().address() as AddressInfo;
  return `http://127.0.0.1:${port}`;
}

export interface Route {
  method: string;
  path: string;
}

// Every route the app mounts, read from the controllers' metadata as Nest registers them (the
// same on both adapters).
export function routesOf(app: INestApplication): Route[] {
  const routes: Route[] = [];
  for (const module of app.get(ModulesContainer).values()) {
    for (const wrapper of module.controllers.values()) {
      const controller = wrapper.metatype as { prototype: Record<string, unknown> };
      const base = String(Reflect.getMetadata(PATH_METADATA, controller) ?? '');
      for (const key of Object.getOwnPropertyNames(controller.prototype)) {
        const handler = controller.prototype[key];
        if (key === 'constructor' || typeof handler !== 'function' || Reflect.getMetadata(PATH_METADATA, handler) === undefined) continue;
        const method = RequestMethod[Reflect.getMetadata(METHOD_METADATA, handler) as number];
        const path = `/${[base, String(Reflect.getMetadata(PATH_METADATA, handler))].filter((p) => p && p !== '/').join('/')}`;
        routes.push({ method, path });
      }
    }
  }
  return routes;
}

const ANSWER_TIMEOUT_MS = 10_000;

export interface Answer {
  status: number;
  body: unknown;
}

export async function call(base: string, method: string, path: string, token?: string, body?: unknown): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (token) headers.authorization = `Bearer ${token}`;
  const sendsBody = !['GET', 'HEAD', 'DELETE'].includes(method);
  if (sendsBody) headers['content-type'] = 'application/json';
  // A route that never answers fails its test within seconds instead of hanging the run.
  let response: Response;
  let text: string;
  try {
    response = await fetch(base + path, { method, headers, body: sendsBody ? JSON.stringify(body ?? {}) : undefined, signal: AbortSignal.timeout(ANSWER_TIMEOUT_MS) });
    text = await response.text();
  } catch (error) {
    return { status: 0, body: `no answer: ${(error as Error).message}` };
  }
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch {
    // not JSON (an export, an HTML error page): keep the text
  }
  return { status: response.status, body: parsed };
}

export async function login(base: string, email: string, password: string): Promise<string> {
  const answer = await call(base, 'POST', '/auth/login', undefined, { email, password });
  if (answer.status !== 200) throw new Error(`login of ${email} answered ${answer.status}: ${JSON.stringify(answer.body)}`);
  return (answer.body as { accessToken: string }).accessToken;
}
