import { randomBytes } from 'node:crypto';
import { AdminBootstrap } from '../../src/users/auth/admin-bootstrap.service';
import { UserValidationError } from '../../src/users/users.errors';
import { createTestApp, type TestApp } from '../harness/create-test-app';

// Common passwords (the ranked list of @zxcvbn-ts/language-common) and a password equal to the
// email, its local part or the full name are refused on every path that sets a plaintext password.
describe('password policy on every path that sets a password (e2e)', () => {
  let t: TestApp;
  let admin: string;

  beforeAll(async () => {
    t = await createTestApp();
    admin = `Bearer ${t.adminToken}`;
  });
  afterAll(() => t.close());

  const person = () => {
    const local = `ada.lovelace.${randomBytes(4).toString('hex')}`;
    return { email: `${local}@example.com`, local, fullName: `Ada Lovelace ${randomBytes(3).toString('hex')}` };
  };
  // Common ones, in other cases and widths too (compared after NFKC, case-insensitively), and
  // the identity of the account itself.
  const refused = (p: ReturnType<typeof person>) => [
    '12345678',
    'password',
    'PassWord',
    'Ｐａｓｓｗｏｒｄ',
    'admin123',
    'iloveyou1',
    p.email,
    p.email.toUpperCase(),
    p.local,
    p.fullName,
    p.fullName.toLowerCase(),
  ];

  const expectRefused = (response: { status: number; body: unknown }, field: string) => {
    expect(response.status).toBe(400);
    expect(response.body).toMatchObject({ code: 'VALIDATION_FAILED', details: [expect.objectContaining({ field })] });
  };

  it('POST /users', async () => {
    const p = person();
    for (const password of refused(p)) {
      expectRefused(await t.http.post('/users').set('Authorization', admin).send({ email: p.email, fullName: p.fullName, password }), 'password');
    }
    await t.http.post('/users').set('Authorization', admin).send({ email: p.email, fullName: p.fullName, password: 'a long unusual passphrase' }).expect(201);
  });

  it('PUT /users/:id/password', async () => {
    const p = person();
    const { user } = await t.factories.createUser({ email: p.email, fullName: p.fullName });
    for (const password of refused(p)) {
      expectRefused(await t.http.put(`/users/${user.id}/password`).set('Authorization', admin).send({ password }), 'password');
    }
    await t.http.put(`/users/${user.id}/password`).set('Authorization', admin).send({ password: 'a long unusual passphrase' }).expect(204);
  });

  it('PUT /auth/password', async () => {
    const p = person();
    const { user, password } = await t.factories.createUser({ email: p.email, fullName: p.fullName });
    const token = await t.tokenFor(user, password);
    for (const newPassword of refused(p)) {
      expectRefused(await t.http.put('/auth/password').set('Authorization', `Bearer ${token}`).send({ currentPassword: password, newPassword }), 'newPassword');
    }
    await t.http.get('/auth/me').set('Authorization', `Bearer ${token}`).expect(200);
  });

  it('POST /users/bulk and POST /users/import (JSON and CSV), by row', async () => {
    const p = person();
    const good = person();
    for (const password of refused(p)) {
      const users = [{ email: good.email, password: 'a long unusual passphrase' }, { email: p.email, fullName: p.fullName, password }];
      const bulk = await t.http.post('/users/bulk').set('Authorization', admin).send({ users });
      // Bulk names fields by their path in the body, as its request schema does.
      expectRefused(bulk, 'users.1.password');
      expect(bulk.body).toMatchObject({ details: [{ field: 'users.1.password', index: 1 }] });
      expectRefused(await t.http.post('/users/import').set('Authorization', admin).send({ users }), 'password');
    }
    const csv = `email,fullName,password\n${p.email},${p.fullName},admin123\n`;
    expectRefused(await t.http.post('/users/import').set('Authorization', admin).set('content-type', 'text/csv').send(csv), 'password');
    expect(await t.users.isEmailUnique(good.email)).toBe(true);
  });

  it('UsersRepository.createUserWithValidation and the admin bootstrap (admin:create)', async () => {
    const p = person();
    for (const password of refused(p)) {
      await expect(t.users.createUserWithValidation(p.email, password, { fullName: p.fullName })).rejects.toBeInstanceOf(UserValidationError);
    }
    // The bootstrap knows no name: everything else is refused there too.
    for (const password of refused(p).filter((r) => r.toLowerCase() !== p.fullName.toLowerCase())) {
      await expect(t.app.get(AdminBootstrap).ensureAdmin(p.email, password)).rejects.toBeInstanceOf(UserValidationError);
    }
    expect(await t.users.isEmailUnique(p.email)).toBe(true);
  });
});
