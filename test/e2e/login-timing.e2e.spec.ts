import { hash as hashArgon2 } from '@node-rs/argon2';
import { hash as hashBcrypt } from '@node-rs/bcrypt';
import { performance } from 'node:perf_hooks';
import { createTestApp, uniqueEmail, type TestApp } from '../harness/create-test-app';

const ARGON2ID = 2;
const SAMPLES = 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

// A failed login must not tell what kind of account it tried. Every kind is sampled in
// interleaved rounds (so load on the shared machine hits them alike) and compared by median
// against a wrong password on an ordinary account, measured in the same run.
describe('login timing (e2e)', () => {
  let t: TestApp;

  beforeAll(async () => {
    t = await createTestApp();
  });
  afterAll(() => t.close());

  it('takes as long for an unknown email or an imported hash of any accepted cost as for an ordinary account', async () => {
    const ordinary = await t.factories.createUser();
    const imported = {
      bcrypt4: { email: uniqueEmail('bcrypt4'), hashedPassword: await hashBcrypt('imported password 1', 4) },
      argon2Light: {
        email: uniqueEmail('argon2-light'),
        hashedPassword: await hashArgon2('imported password 1', { algorithm: ARGON2ID, memoryCost: 4096, timeCost: 1, parallelism: 1 }),
      },
    };
    await t.users.bulkCreateUsers(Object.values(imported));
    // A very costly hash stored before import bounded the costs (written directly: import refuses it now).
    const costly = await t.factories.createUser();
    const costlyHash = await hashArgon2('imported password 1', { algorithm: ARGON2ID, memoryCost: 65536, timeCost: 10, parallelism: 4 });
    await t.users.dbSessionContext((session) => session.query(`UPDATE users SET hashed_password = $2 WHERE id = $1`, [costly.user.id, costlyHash]));
    const refused = await t.http
      .post('/users/import')
      .set('Authorization', `Bearer ${t.adminToken}`)
      .send({ users: [{ email: uniqueEmail('costly'), hashedPassword: costlyHash }] });
    expect(refused.body).toMatchObject({ statusCode: 400, code: 'VALIDATION_FAILED', details: [{ field: 'hashedPassword' }] });

    const kinds: Record<string, string> = {
      ordinary: ordinary.user.email,
      unknownEmail: uniqueEmail('nobody'),
      bcrypt4: imported.bcrypt4.email,
      argon2Light: imported.argon2Light.email,
      argon2Costly: costly.user.email,
    };
    const samples: Record<string, number[]> = Object.fromEntries(Object.keys(kinds).map((k) => [k, []]));
    const attempt = async (email: string) => {
      const started = performance.now();
      const response = await t.http.post('/auth/login').send({ email, password: 'not the password 1' });
      const elapsed = performance.now() - started;
      expect(response.status).toBe(401);
      return elapsed;
    };
    for (const email of Object.values(kinds)) await attempt(email); // warm-up, not counted
    for (let round = 0; round < SAMPLES; round += 1) {
      const order = Object.keys(kinds);
      for (let i = 0; i < round % order.length; i += 1) order.push(order.shift()!);
      for (const kind of order) samples[kind].push(await attempt(kinds[kind]));
    }

    const reference = median(samples.ordinary);
    const ratios = Object.fromEntries(Object.keys(kinds).map((k) => [k, Math.round((median(samples[k]) / reference) * 100) / 100]));
    const outside = Object.entries(ratios).filter(([, ratio]) => ratio < 0.75 || ratio > 1.35);
    expect({ reference: Math.round(reference), outside }).toEqual({ reference: Math.round(reference), outside: [] });
  }, 120_000);
});
