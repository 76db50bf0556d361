import type { Pool } from 'pg';

const FIRST_NAMES = [
  'Olivia', 'Liam', 'Emma', 'Noah', 'Amelia', 'Oliver', 'Ava', 'Elijah', 'Sophia', 'Lucas', 'Mia', 'Mateo', 'Isabella',
  'Levi', 'Charlotte', 'James', 'Harper', 'Benjamin', 'Evelyn', 'Henry', 'Anna', 'Jonas', 'Léa', 'Hugo', 'Zoë', 'Noé',
  'Chloé', 'Jörg', 'Ingrid', 'Sven', 'Aiko', 'Haruto', 'Mei', 'Wei', 'Priya', 'Arjun', 'Fatima', 'Omar', 'Amara', 'Kwame',
  'Sofía', 'Diego', 'Valentina', 'Mateus', 'Camila', 'Ivan', 'Olga', 'Dmitri', 'Katarzyna', 'Piotr', 'Giulia', 'Marco',
  'Nora', 'Emil', 'Ines', 'Tomás', 'Yara', 'Kenji', 'Linh', 'Minh',
];
const LAST_NAMES = [
  'Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez', 'Hernandez',
  'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin', 'Lee', 'Perez', 'Thompson',
  'White', 'Harris', 'Müller', 'Schmidt', 'Schneider', 'Fischer', 'Dubois', 'Lefèvre', 'Moreau', 'Rossi', 'Russo',
  'Ferrari', 'Kowalski', 'Nowak', 'Novák', 'Svensson', 'Johansson', 'Nguyen', 'Tran', 'Kim', 'Park', 'Sato', 'Suzuki',
  'Tanaka', 'Wang', 'Li', 'Zhang', 'Chen', 'Singh', 'Patel', 'Kumar', 'Okafor', 'Mensah', 'Silva', 'Santos', 'Ivanov',
  'Petrov',
];
const DOMAINS = ['gmail.com', 'outlook.com', 'yahoo.com', 'icloud.com', 'proton.me', 'gmx.de', 'orange.fr', 'acme-corp.com', 'example.org', 'startup.io'];
const PLANS = ['free', 'free', 'free', 'pro', 'pro', 'team', 'enterprise'];
const COUNTRIES = ['US', 'GB', 'DE', 'FR', 'IN', 'BR', 'JP', 'NG', 'PL', 'SE', 'VN', 'IT', 'CA', 'MX', 'KR'];
const SOURCES = ['organic', 'ads', 'referral', 'import', 'partner'];

// Accented letters fold to ASCII in the local part of the generated emails.
const ACCENTED = 'éèëöüóáíñçøåäÉÖÜŽž';
const PLAIN = 'eeeouoaincoaaEOUZz';

// One INSERT ... SELECT over generate_series per chunk: seeding is not what is measured, so it
// goes at PostgreSQL's speed. setseed() makes every run seed the same users.
const SEED_SQL = `
  INSERT INTO users (email, email_normalized, full_name, hashed_password, is_active, is_deleted, deleted_at, roles,
                     metadata, created_at, updated_at, last_login_at, version)
  SELECT e.email, e.email, CASE WHEN s.r_name < 0.02 THEN NULL ELSE s.first || ' ' || s.last END, $3,
         s.r_active >= 0.1, s.r_deleted < 0.01, CASE WHEN s.r_deleted < 0.01 THEN s.created_at + (now() - s.created_at) * 0.5 END,
         CASE WHEN s.r_role < 0.01 THEN '{user,admin}'::text[] WHEN s.r_role < 0.06 THEN '{user,editor}'::text[] ELSE '{user}'::text[] END,
         jsonb_build_object('plan', ($6::text[])[1 + floor(s.r_plan * cardinality($6::text[]))::int],
                            'country', ($7::text[])[1 + floor(s.r_country * cardinality($7::text[]))::int],
                            'newsletter', s.r_newsletter < 0.3,
                            'source', ($8::text[])[1 + floor(s.r_source * cardinality($8::text[]))::int]),
         s.created_at, s.created_at + (now() - s.created_at) * s.r_updated,
         CASE WHEN s.r_login < 0.15 THEN NULL ELSE s.created_at + (now() - s.created_at) * (0.5 + s.r_login / 2) END,
         1 + floor(s.r_updated * 3)::int
  FROM (
    SELECT g,
           ($4::text[])[1 + floor(random() * cardinality($4::text[]))::int] AS first,
           ($5::text[])[1 + floor(random() * cardinality($5::text[]))::int] AS last,
           ($9::text[])[1 + floor(random() * cardinality($9::text[]))::int] AS domain,
           -- power(random(), 1.6): recent years hold more signups than early ones.
           now() - interval '5 years' * power(random(), 1.6) AS created_at,
           random() AS r_name, random() AS r_active, random() AS r_deleted, random() AS r_role, random() AS r_plan,
           random() AS r_country, random() AS r_newsletter, random() AS r_source, random() AS r_updated, random() AS r_login,
           random() AS r_style
    FROM generate_series($1::int, $2::int) AS g
  ) s
  CROSS JOIN LATERAL (
    SELECT lower(translate(CASE WHEN s.r_style < 0.5 THEN s.first || '.' || s.last
                                WHEN s.r_style < 0.8 THEN left(s.first, 1) || s.last
                                ELSE s.last || '_' || s.first END, '${ACCENTED}', '${PLAIN}')) || s.g || '@' || s.domain AS email
  ) e`;

const CHUNK = 100_000;

export async function seedUsers(pool: Pool, count: number, hashedPassword: string, log: (line: string) => void): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('SELECT setseed(0.42)');
    for (let start = 1; start <= count; start += CHUNK) {
      const end = Math.min(count, start + CHUNK - 1);
      await client.query(SEED_SQL, [start, end, hashedPassword, FIRST_NAMES, LAST_NAMES, PLANS, COUNTRIES, SOURCES, DOMAINS]);
      log(`seeded ${end.toLocaleString('en-US')} / ${count.toLocaleString('en-US')} users`);
    }
    // Fresh statistics and a clean visibility map, as a long-lived table would have.
    await client.query('VACUUM (ANALYZE) users');
  } finally {
    client.release();
  }
}
