import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../harness/create-test-app';

interface Outcome {
  afterMs: number;
  answer: string;
}

// Sends the headers of a request, then its body one byte every `everyMs`, until the server
// answers or closes the connection (or `giveUpMs` passes: outcome undefined).
function trickle(port: number, path: string, everyMs: number, giveUpMs: number): Promise<Outcome | undefined> {
  return new Promise((resolve) => {
    const started = Date.now();
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    let timer: NodeJS.Timeout | undefined;
    const finish = (outcome: Outcome | undefined) => {
      clearInterval(timer);
      clearTimeout(giveUp);
      socket.destroy();
      resolve(outcome);
    };
    const giveUp = setTimeout(() => finish(undefined), giveUpMs);
    socket.on('connect', () => {
      socket.write(`POST ${path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{`);
      timer = setInterval(() => socket.write(' '), everyMs);
    });
    socket.on('data', (chunk: Buffer) => (answer += chunk.toString('utf8')));
    socket.on('error', () => undefined);
    socket.on('close', () => finish({ afterMs: Date.now() - started, answer }));
  });
}

describe('a request whose body trickles in', () => {
  let t: TestApp;
  const requestTimeoutMs = 1500;

  beforeAll(async () => {
    t = await createTestApp({ httpRequestTimeoutMs: requestTimeoutMs });
  });
  afterAll(() => t.close());

  it('is answered 408 or closed once HTTP_REQUEST_TIMEOUT_MS has passed, on a public and a guarded route', async () => {
    const { port } = t.app.getHttpServer().address() as AddressInfo;
    const outcomes = await Promise.all(['/auth/login', '/users/bulk'].map((path) => trickle(port, path, 250, 15000)));
    for (const outcome of outcomes) {
      expect(outcome).toBeDefined();
      // The timeout, plus the server's once-a-second check, plus a loaded machine's slack.
      expect(outcome!.afterMs).toBeGreaterThanOrEqual(requestTimeoutMs);
      expect(outcome!.afterMs).toBeLessThan(requestTimeoutMs + 4000);
      // Answered 408, or closed without an answer.
      expect(outcome!.answer).toMatch(/^(HTTP\/1\.1 408 |$)/);
    }
  });

  it('keeps serving ordinary requests meanwhile and afterwards', async () => {
    await t.http.get('/health').expect(200);
  });
});
