import type { IncomingMessage, ServerResponse } from 'node:http';
import { Module } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import { AppConfig } from '../config/app-config';
import { requestIdFor } from '../common/request-id';

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
// pino-http hands a custom `err` serializer the output of pino's own (a plain object with
// `type`, `message`, `stack` and every enumerable property), so both shapes are read here.
export function serializeError(error: unknown): Record<string, unknown> {
  if (typeof error !== 'object' || error === null) return { message: String(error) };
  const { name, type, message, stack, code, driverError } = error as Partial<Record<'name' | 'type' | 'message' | 'stack' | 'code', unknown>> & {
    driverError?: { code?: unknown };
  };
  return {
    type: error instanceof Error ? name : (type ?? name),
    message: typeof message === 'string' ? message : String(message),
    code: code ?? driverError?.code,
    stack,
  };
}

// The path and the names of query parameters, never their values: a query string can carry an
// email, a search term or a token.
export function loggableUrl(url: string): string {
  const queryAt = url.indexOf('?');
  if (queryAt < 0) return url;
  const keys = [...new URLSearchParams(url.slice(queryAt + 1)).keys()];
  return `${url.slice(0, queryAt)}?${keys.map(encodeURIComponent).join('&')}`;
}

@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [AppConfig],
      useFactory: (config: AppConfig) => ({
        // nestjs-pino's default route pattern ('{/*splat}') matches nothing under Nest 12 with
        // Fastify, so its middleware never ran and no request was logged.
        forRoutes: ['{*splat}'],
        pinoHttp: {
          level: config.logLevel,
          genReqId: (req: IncomingMessage) => (req as IncomingMessage & { id?: string }).id ?? requestIdFor(req),
          redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
          customProps: () => ({ service: 'nest-users' }),
          // One line per request when it completes: info, or error for a 5xx.
          customLogLevel: (_req: IncomingMessage, res: ServerResponse, error?: Error) => (error || res.statusCode >= 500 ? 'error' : 'info'),
          serializers: {
            err: serializeError,
            req: (req: { id: string; method: string; url: string }) => ({ id: req.id, method: req.method, url: loggableUrl(req.url) }),
            res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
          },
        },
      }),
    }),
  ],
})
export class LoggingModule {}
