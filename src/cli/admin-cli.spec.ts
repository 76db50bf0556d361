import { adminArguments } from './admin-cli';

describe('adminArguments', () => {
  it('reads --email and --password', () => {
    expect(adminArguments(['--email', 'a@example.com', '--password', 'secret-pass'], {})).toEqual({ email: 'a@example.com', password: 'secret-pass' });
  });

  it('falls back to ADMIN_EMAIL and ADMIN_PASSWORD', () => {
    expect(adminArguments(['--email', 'a@example.com'], { ADMIN_PASSWORD: 'from-env-1' })).toEqual({ email: 'a@example.com', password: 'from-env-1' });
    expect(adminArguments([], { ADMIN_EMAIL: 'b@example.com', ADMIN_PASSWORD: 'from-env-1' })).toEqual({ email: 'b@example.com', password: 'from-env-1' });
  });

  it('leaves the password to be read when neither gives it', () => {
    expect(adminArguments(['--email', 'a@example.com'], {})).toEqual({ email: 'a@example.com', password: undefined });
  });

  it('asks for help with --help or -h, whatever else is given', () => {
    expect(adminArguments(['--help'], {})).toEqual({ help: true });
    expect(adminArguments(['-h', '--email', 'a@example.com'], {})).toEqual({ help: true });
  });

  it('explains its usage when the email is missing, and rejects unknown options', () => {
    expect(() => adminArguments([], {})).toThrow(/usage: npm run admin:create/);
    expect(() => adminArguments(['--email', 'a@example.com', '--pasword', 'x'], {})).toThrow(/Unknown option/);
  });
});
