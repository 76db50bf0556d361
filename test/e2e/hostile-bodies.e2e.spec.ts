import { Agent, request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../harness/create-test-app';
import { routesOf } from '../support/routes';

const TAKES_A_BODY = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);
const HEALTH_BOUND_MS = 200;

interface Answer {
  status: number;
  body: Record<string, unknown>;
}

// Sends `body` and resolves with the answer, which may come before the body was fully sent (413).
function send(port: number, method: string, path: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const call = httpRequest({ host: '127.0.0.1', port, method, path, headers: { 'content-type': 'application/json', 'content-length': body.length, ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: res.statusCode ?? 0, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
      });
    });
    // Writing the rest of a refused body can fail once the server has answered and closed.
    call.on('error', (error) => (call.writableFinished ? reject(error) : undefined));
    call.setTimeout(60000, () => call.destroy(new Error(`${method} ${path}: no answer within 60 s`)));
    call.end(body);
  });
}

// Polls GET /health/live (the process answering, no database round trip) one request at a time until stopped; resolves with every latency, counting a
// probe still unanswered when stopped as the time it has waited so far.
function pollHealth(port: number): { stop(): Promise<number[]> } {
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const latencies: number[] = [];
  let stopped = false;
  let pendingSince: number | undefined;
  const probe = (): Promise<void> =>
    new Promise((resolve) => {
      pendingSince = Date.now();
      const call = httpRequest({ host: '127.0.0.1', port, path: '/health/live', agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(Date.now() - pendingSince!);
          pendingSince = undefined;
          resolve();
        });
      });
      call.on('error', () => resolve());
      call.end();
    });
  const loop = (async () => {
    while (!stopped) {
      await probe();
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    async stop() {
      stopped = true;
      const pending = pendingSince;
      if (pending !== undefined) latencies.push(Date.now() - pending);
      await Promise.race([loop, new Promise((r) => setTimeout(r, 100))]);
      agent.destroy();
      return latencies;
    },
  };
}

// A JSON body of `bytes` bytes holding one array of empty objects: 3.3 million of them in 9.9 MB.
function arrayOfEmptyObjects(bytes: number): Buffer {
  const count = Math.floor((bytes - 8) / 3);
  return Buffer.from(`{"x":[${'{},'.repeat(count - 1)}{}]}`);
}

describe('a hostile body sent to every route that takes one', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('is refused quickly with the app error body, while /health keeps answering within 200 ms', async () => {
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const body = arrayOfEmptyObjects(9.9 * 1024 * 1024);
    const routes = routesOf(t).filter((r) => TAKES_A_BODY.has(r.method));
    expect(routes.length).toBeGreaterThan(10);
    const failures: string[] = [];
    for (const route of routes) {
      const path = route.path.replace(':id', t.admin.id).replace(':role', 'user');
      for (const [who, headers] of [
        ['anonymous', {}],
        ['admin', { authorization: `Bearer ${t.adminToken}` }],
      ] as const) {
        const attempt = async (): Promise<{ failure?: string; slowOnly: boolean }> => {
          const health = pollHealth(port);
          await new Promise((r) => setTimeout(r, 60));
          const started = Date.now();
          const answer = await send(port, route.method, path, body, headers).catch((error: Error): Answer => ({ status: 0, body: { message: error.message } }));
          const tookMs = Date.now() - started;
          const latencies = await health.stop();
          const slowest = Math.max(...latencies);
          const expected = who === 'anonymous' ? [400, 401, 413] : [400, 413];
          const answered = expected.includes(answer.status) && typeof answer.body.code === 'string' && typeof answer.body.requestId === 'string';
          if (answered && slowest < HEALTH_BOUND_MS && latencies.length >= 2) return { slowOnly: false };
          const failure = `${route.method} ${path} as ${who}: ${answer.status} ${JSON.stringify(answer.body).slice(0, 120)} in ${tookMs} ms; /health slowest ${slowest} ms over ${latencies.length} probes`;
          return { failure, slowOnly: answered };
        };
        // The client shares this process's event loop (and its garbage collector) with the server,
        // so one pause of its own can delay a probe once; blocking by the server does it every time.
        let outcome = await attempt();
        if (outcome.failure && outcome.slowOnly) outcome = await attempt();
        if (outcome.failure) failures.push(outcome.failure);
      }
    }
    expect(failures).toEqual([]);
  }, 600000);
});
