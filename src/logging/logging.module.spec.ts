import { QueryFailedError } from 'typeorm';
import { stdSerializers } from 'pino';
import { loggableUrl, serializeError } from './logging.module';

describe('serializeError', () => {
  it('keeps what explains the failure and drops query parameters and driver details', () => {
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
    const driverError = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014', detail: `Key (x)=(${hash})` });
    const error = new QueryFailedError('UPDATE users SET hashed_password = $2 WHERE id = $1', ['id', hash], driverError);
    const logged = JSON.stringify(serializeError(error));
    expect(logged).not.toContain('$argon2');
    expect(serializeError(error)).toMatchObject({ type: 'QueryFailedError', message: 'canceling statement due to statement timeout', code: '57014' });
  });

  it('reads the same fields from what pino-http hands it: the output of pino\'s own serializer', () => {
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
    const driverError = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    const serialized = serializeError(stdSerializers.err(new QueryFailedError('UPDATE users SET metadata = $2 WHERE id = $1', ['id', hash], driverError)));
    expect(serialized).toEqual({ type: 'QueryFailedError', message: 'unsupported Unicode escape sequence', code: '22P05', stack: expect.stringContaining('QueryFailedError') });
    expect(JSON.stringify(serialized)).not.toContain('$argon2');
  });
});

describe('loggableUrl', () => {
  it('keeps the path and the names of query parameters, never their values', () => {
    expect(loggableUrl('/users/search?q=ada%40example.com&limit=5')).toBe('/users/search?q&limit');
    expect(loggableUrl('/users/x?token=abc&token=def')).toBe('/users/x?token&token');
    expect(loggableUrl('/health')).toBe('/health');
  });
});
