import { QueryFailedError } from 'typeorm';
import { serializeError } from './logging.module';

describe('serializeError', () => {
  it('keeps what explains the failure and drops query parameters and driver details', () => {
    const hash = '$argon2id$v=19$m=19456,t=2,p=1$c2FsdHNhbHQ$aGFzaGhhc2g';
    const driverError = Object.assign(new Error('canceling statement due to statement timeout'), { code: '57014', detail: `Key (x)=(${hash})` });
    const error = new QueryFailedError('UPDATE users SET hashed_password = $2 WHERE id = $1', ['id', hash], driverError);
    const logged = JSON.stringify(serializeError(error));
    expect(logged).not.toContain('$argon2');
    expect(serializeError(error)).toMatchObject({ type: 'QueryFailedError', message: 'canceling statement due to statement timeout', code: '57014' });
  });
});
