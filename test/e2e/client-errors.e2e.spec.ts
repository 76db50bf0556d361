import { connect, type AddressInfo } from 'node:net';
import { createTestApp, type TestApp } from '../harness/create-test-app';

// Sends raw bytes and returns what the server answered before it closed the connection.
function exchange(port: number, request: string | Buffer, giveUpMs = 10000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(answer);
    };
    const timer = setTimeout(done, giveUpMs);
    socket.on('connect', () => socket.write(request));
    socket.on('data', (chunk: Buffer) => {
      answer += chunk.toString('utf8');
      // One answer is enough; the server may keep the connection open.
      if (/\r\n\r\n/.test(answer) && answer.includes('}')) done();
    });
    socket.on('error', () => undefined);
    socket.on('close', done);
  });
}

function parse(answer: string): { status: number; headers: Record<string, string>; body: Record<string, unknown> } {
  const [head, ...rest] = answer.split('\r\n\r\n');
  const [statusLine, ...lines] = head.split('\r\n');
  const headers = Object.fromEntries(lines.map((line) => [line.slice(0, line.indexOf(':')).toLowerCase(), line.slice(line.indexOf(':') + 1).trim()]));
  return { status: Number(statusLine.split(' ')[1]), headers, body: JSON.parse(rest.join('\r\n')) as Record<string, unknown> };
}

// Errors that Fastify or Node's HTTP parser raise before any route runs get the app's one error
// body, a request id and no-store, like every other answer.
describe('errors raised below the app (e2e)', () => {
  let t: TestApp;
  let port: number;

  beforeAll(async () => {
    t = await createTestApp({ httpRequestTimeoutMs: 1500 });
    port = (t.app.getHttpServer().address() as AddressInfo).port;
  });
  afterAll(() => t.close());

  const expectAppError = (answer: string, status: number, code: string) => {
    const { status: got, headers, body } = parse(answer);
    expect({ got, body }).toEqual({ got: status, body: { statusCode: status, code, message: expect.any(String), requestId: headers['x-request-id'] } });
    expect(headers['cache-control']).toBe('no-store');
  };

  it('a URL that is not a valid path (FST_ERR_BAD_URL)', async () => {
    expectAppError(await exchange(port, 'GET /users/% HTTP/1.1\r\nHost: localhost\r\n\r\n'), 400, 'VALIDATION_FAILED');
  });

  it('a request line the HTTP parser refuses (raw UTF-8 in the URL)', async () => {
    const line = Buffer.concat([Buffer.from('GET /users/email-availability?email='), Buffer.from('XΑΣ@EXAMPLE.GR', 'utf8'), Buffer.from(' HTTP/1.1\r\nHost: localhost\r\n\r\n')]);
    expectAppError(await exchange(port, line), 400, 'VALIDATION_FAILED');
  });

  it('headers over the size limit (431)', async () => {
    expectAppError(await exchange(port, `GET /health HTTP/1.1\r\nHost: localhost\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`), 431, 'HEADERS_TOO_LARGE');
  });

  it('a request not received within HTTP_REQUEST_TIMEOUT_MS (408)', async () => {
    expectAppError(await exchange(port, 'POST /auth/login HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{'), 408, 'REQUEST_TIMEOUT');
  });
});
