import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';

export const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Accepts a caller's X-Request-Id when it is a plain token, so ids can be followed across
// services; anything else gets a fresh UUID. Fastify and pino share it through `raw.id`.
export function requestIdFor(req: IncomingMessage): string {
  const header = req.headers['x-request-id'];
  const id = typeof header === 'string' && REQUEST_ID.test(header) ? header : randomUUID();
  (req as IncomingMessage & { id?: string }).id = id;
  return id;
}

// Never log credentials, whatever route or error carries them.
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'res.headers["set-cookie"]',
  '*.password',
  '*.hashedPassword',
  '*.currentPassword',
  '*.newPassword',
  '*.accessToken',
];

// What a log line keeps of an error: never its query parameters (TypeORM's QueryFailedError
// carries `parameters`, which can hold password hashes) nor the values in a driver `detail`.
export function serializeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { message: String(error) };
  const { code, driverError } = error as Error & { code?: unknown; driverError?: { code?: unknown } };
  return { type: error.name, message: error.message, code: code ?? driverError?.code, stack: error.stack };
}

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        pinoHttp: {
          level: config.logLevel,
          genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? requestIdFor(req),
          redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
          customProps: () => ({ service: 'nest-users' }),
          serializers: {
            err: serializeError,
            req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: req.url }),
          },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
