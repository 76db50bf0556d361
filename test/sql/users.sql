-- Every SQL statement UsersRepository sends to PostgreSQL, captured at the driver by
-- test/sql/users-sql.spec.ts: one case per public method, parameters as $n with their shapes.
-- Generated: run `npx jest test/sql`, review the diff, and commit it (CI fails on a change).

-- UsersRepository.getUserById(id of a live user; cache miss)

-- prepared statement users_live_auth_by_id
-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch, u.xmin::text AS row_version FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.getUserById(id of a live user; cache miss, and a write invalidated the cache meanwhile)

-- prepared statement users_live_auth_by_id
-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch, u.xmin::text AS row_version FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- prepared statement users_live_unchanged
-- params: $1 uuid, $2 text
SELECT 1 FROM "users" u WHERE u.id = $1 AND u.xmin::text = $2 AND u.deleted_at IS NULL;

-- UsersRepository.getUserById(id of a live user; cache hit)
-- (no SQL)

-- UsersRepository.getUserById(id of a soft-deleted user, { withDeleted: true })

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE u.id = $1 AND TRUE;

-- UsersRepository.safeGetUserById(id of no user)
-- rejects with USER_NOT_FOUND

-- prepared statement users_live_auth_by_id
-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch, u.xmin::text AS row_version FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.userExists(id of a live user)

-- params: $1 uuid
SELECT 1 FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.getUsersByIds(three ids)

-- params: $1 uuid[3]
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM unnest($1::uuid[]) WITH ORDINALITY AS wanted(id, position)
  JOIN "users" u ON u.id = wanted.id WHERE u.deleted_at IS NULL ORDER BY wanted.position;

-- UsersRepository.listUsersPaginated(offset 10, limit 10)

-- params: $1 int, $2 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND TRUE ORDER BY u.created_at DESC, u.id DESC OFFSET $1 LIMIT $2) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND TRUE;

-- UsersRepository.listUsersPaginated(offset 0, limit 10, { withDeleted: true })

-- params: $1 int, $2 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE TRUE AND TRUE ORDER BY u.created_at DESC, u.id DESC OFFSET $1 LIMIT $2) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

SELECT count(*) FROM "users" u WHERE TRUE AND TRUE;

-- UsersRepository.listUsersAfter(no cursor, limit 10)

-- params: $1 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE u.deleted_at IS NULL ORDER BY u.created_at DESC, u.id DESC LIMIT $1;

-- UsersRepository.listUsersAfter(the first page's cursor, limit 10)

-- params: $1 int, $2 text, $3 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE u.deleted_at IS NULL AND (u.created_at, u.id) < ($2::timestamptz, $3::uuid) ORDER BY u.created_at DESC, u.id DESC LIMIT $1;

-- UsersRepository.listUsersAfter(the first page's cursor, limit 10, { withDeleted: true })

-- params: $1 int, $2 text, $3 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE TRUE AND (u.created_at, u.id) < ($2::timestamptz, $3::uuid) ORDER BY u.created_at DESC, u.id DESC LIMIT $1;

-- UsersRepository.listDormantUsers({ inactiveForDays: 90, limit: 10 })

-- params: $1 int, $2 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, to_char(COALESCE(u.last_login_at, u.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_seen_exact
  FROM "users" u WHERE u.deleted_at IS NULL AND COALESCE(u.last_login_at, u.created_at) < now() - make_interval(days => $1::int) ORDER BY COALESCE(u.last_login_at, u.created_at), u.id LIMIT $2;

-- UsersRepository.listDormantUsers({ inactiveForDays: 90, after: the first page's cursor, limit: 10 })

-- params: $1 int, $2 int, $3 text, $4 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, to_char(COALESCE(u.last_login_at, u.created_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS last_seen_exact
  FROM "users" u WHERE u.deleted_at IS NULL AND COALESCE(u.last_login_at, u.created_at) < now() - make_interval(days => $1::int) AND (COALESCE(u.last_login_at, u.created_at), u.id) > ($3::timestamptz, $4::uuid) ORDER BY COALESCE(u.last_login_at, u.created_at), u.id LIMIT $2;

-- UsersRepository.countDormantUsers({ inactiveForDays: 90 })

-- params: $1 int
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND COALESCE(u.last_login_at, u.created_at) < now() - make_interval(days => $1::int);

-- UsersRepository.searchUsersByNameOrEmail('seed', offset 0, limit 10)

-- params: $1 text, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u JOIN (SELECT m.id FROM "users" m WHERE m.deleted_at IS NULL AND m.search_text LIKE lower($1) ORDER BY m.created_at DESC, m.id DESC OFFSET $2 LIMIT $3) hit ON hit.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 text
SELECT count(*) FROM (SELECT 1 FROM "users" m WHERE m.deleted_at IS NULL AND m.search_text LIKE lower($1) ORDER BY m.created_at DESC, m.id DESC LIMIT 1001) capped;

-- UsersRepository.searchUsersByNameOrEmail('50%_off', offset 0, limit 10, { withDeleted: true })

-- params: $1 text, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u JOIN (SELECT m.id FROM "users" m WHERE TRUE AND m.search_text LIKE lower($1) ORDER BY m.created_at DESC, m.id DESC OFFSET $2 LIMIT $3) hit ON hit.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 text
SELECT count(*) FROM (SELECT 1 FROM "users" m WHERE TRUE AND m.search_text LIKE lower($1) ORDER BY m.created_at DESC, m.id DESC LIMIT 1001) capped;

-- UsersRepository.searchUsersByNameOrEmail('jo' (a short term), offset 0, limit 10)

-- params: $1 text, $2 text, $3 int, $4 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u JOIN (SELECT m.id FROM "users" m WHERE m.deleted_at IS NULL AND (m.search_text LIKE lower($1) OR m.search_text LIKE lower($2)) ORDER BY m.created_at DESC, m.id DESC OFFSET $3 LIMIT $4) hit ON hit.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 text, $2 text
SELECT count(*) FROM (SELECT 1 FROM "users" m WHERE m.deleted_at IS NULL AND (m.search_text LIKE lower($1) OR m.search_text LIKE lower($2)) ORDER BY m.created_at DESC, m.id DESC LIMIT 1001) capped;

-- UsersRepository.filterUsersByStatus(false, { limit: 10 })

-- params: $1 bool, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active = $1 ORDER BY u.created_at DESC, u.id DESC OFFSET $2 LIMIT $3) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 bool
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active = $1;

-- UsersRepository.getActiveUsers({ offset: 5, limit: 10 })

-- params: $1 bool, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active = $1 ORDER BY u.created_at DESC, u.id DESC OFFSET $2 LIMIT $3) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 bool
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active = $1;

-- UsersRepository.getInactiveUsers({ withDeleted: true })

-- params: $1 bool, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE TRUE AND u.is_active = $1 ORDER BY u.created_at DESC, u.id DESC OFFSET $2 LIMIT $3) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 bool
SELECT count(*) FROM "users" u WHERE TRUE AND u.is_active = $1;

-- UsersRepository.filterUsersByRole('admin', { limit: 10 })

-- params: $1 text, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND u.roles @> ARRAY[$1]::text[] ORDER BY u.created_at DESC, u.id DESC OFFSET $2 LIMIT $3) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 text
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.roles @> ARRAY[$1]::text[];

-- UsersRepository.getUsersCreatedWithin(2026-01-01, 2027-01-01)

-- params: $1 timestamptz, $2 timestamptz, $3 int, $4 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND u.created_at >= $1 AND u.created_at < $2 ORDER BY u.created_at DESC, u.id DESC OFFSET $3 LIMIT $4) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 timestamptz, $2 timestamptz
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.created_at >= $1 AND u.created_at < $2;

-- UsersRepository.getUsersByCustomField('plan', 'pro', { limit: 10 })

-- params: $1 text, $2 text, $3 int, $4 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND u.metadata @> jsonb_build_object($1::text, $2::jsonb) ORDER BY u.created_at DESC, u.id DESC OFFSET $3 LIMIT $4) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 text, $2 text
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.metadata @> jsonb_build_object($1::text, $2::jsonb);

-- UsersRepository.findUsers(no filter)

-- params: $1 int, $2 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND TRUE ORDER BY u.created_at DESC, u.id DESC OFFSET $1 LIMIT $2) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND TRUE;

-- UsersRepository.findUsers({ isActive: true }, { limit: 10 })

-- params: $1 bool, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND TRUE AND u.is_active = $1 ORDER BY u.created_at DESC, u.id DESC OFFSET $2 LIMIT $3) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 bool
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND TRUE AND u.is_active = $1;

-- UsersRepository.findUsers({ role: 'admin' })

-- params: $1 text, $2 int, $3 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE u.deleted_at IS NULL AND TRUE AND u.roles @> ARRAY[$1]::text[] ORDER BY u.created_at DESC, u.id DESC OFFSET $2 LIMIT $3) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 text
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND TRUE AND u.roles @> ARRAY[$1]::text[];

-- UsersRepository.findUsers({ isActive: false, role: 'user', createdFrom, createdTo }, { withDeleted: true })

-- params: $1 bool, $2 text, $3 timestamptz, $4 timestamptz, $5 int, $6 int
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u
  JOIN (SELECT u.id FROM "users" u WHERE TRUE AND TRUE AND u.is_active = $1 AND u.roles @> ARRAY[$2]::text[] AND u.created_at >= $3 AND u.created_at < $4 ORDER BY u.created_at DESC, u.id DESC OFFSET $5 LIMIT $6) page ON page.id = u.id ORDER BY u.created_at DESC, u.id DESC;

-- params: $1 bool, $2 text, $3 timestamptz, $4 timestamptz
SELECT count(*) FROM "users" u WHERE TRUE AND TRUE AND u.is_active = $1 AND u.roles @> ARRAY[$2]::text[] AND u.created_at >= $3 AND u.created_at < $4;

-- UsersRepository.countUsers()

SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL;

-- UsersRepository.countUsers(true)

-- params: $1 bool
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active = $1;

-- UsersRepository.countUsers(undefined, { withDeleted: true })

SELECT count(*) FROM "users" u WHERE TRUE;

-- UsersRepository.getUserWithFiles(id of a live user)

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact,
  COALESCE((SELECT json_agg(json_build_object('id', f.id, 'filename', f.filename, 'contentType', f.content_type,
  'sizeBytes', f.size_bytes, 'createdAt', f.created_at) ORDER BY f.created_at DESC, f.id DESC)
  FROM "files" f WHERE f.user_id = u.id), '[]'::json) AS files
  FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.userSignupsPerMonth(2026)

-- params: $1 int
SELECT m.month, (SELECT count(*) FROM "users" u
  WHERE u.deleted_at IS NULL
  AND u.created_at >= make_timestamptz($1, m.month, 1, 0, 0, 0, 'UTC')
  AND u.created_at < make_timestamptz($1, m.month, 1, 0, 0, 0, 'UTC') + interval '1 month') AS count
  FROM generate_series(1, 12) AS m(month);

-- UsersRepository.isEmailUnique(a new email)

-- params: $1 text, $2 null
SELECT 1 FROM "users" u WHERE u.email_normalized = $1 AND u.deleted_at IS NULL AND ($2::uuid IS NULL OR u.id <> $2::uuid);

-- UsersRepository.isEmailUnique(a user's email, that user's id)

-- params: $1 text, $2 uuid
SELECT 1 FROM "users" u WHERE u.email_normalized = $1 AND u.deleted_at IS NULL AND ($2::uuid IS NULL OR u.id <> $2::uuid);

-- UsersRepository.lockActiveUsersWithRole('admin', inside dbTransaction)

START TRANSACTION;

-- params: $1 text[1]
SELECT id FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active AND u.roles && $1::text[] FOR UPDATE;

COMMIT;

-- UsersRepository.countActiveUsersWithRole(['admin', 'owner'], one excluded id)

-- params: $1 text[2], $2 uuid[1]
SELECT count(*) FROM "users" u WHERE u.deleted_at IS NULL AND u.is_active AND u.roles && $1::text[] AND NOT (u.id = ANY($2::uuid[]));

-- UsersRepository.getCredentialsByEmail(a live user's email)

-- params: $1 text
SELECT id, hashed_password, is_active, roles, version, token_epoch::text FROM "users" u WHERE u.email_normalized = $1 AND u.deleted_at IS NULL;

-- UsersRepository.getCredentialsById(id of a live user)

-- params: $1 uuid
SELECT id, hashed_password, is_active, roles, version, token_epoch::text FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.getUserAuthState(id of a live user; cache miss)

-- prepared statement users_live_auth_by_id
-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch, u.xmin::text AS row_version FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.getUserAuthState(id of a live user, inside dbTransaction (no cache))

START TRANSACTION;

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

COMMIT;

-- UsersRepository.createUserWithValidation(a new email, a password, { fullName: 'New User' })

-- params: $1 text, $2 null
SELECT 1 FROM "users" u WHERE u.email_normalized = $1 AND u.deleted_at IS NULL AND ($2::uuid IS NULL OR u.id <> $2::uuid);

-- params: $1 text, $2 text, $3 text, $4 text, $5 text, $6 unknown[0], $7 null, $8 null
WITH w AS (INSERT INTO "users" AS u (email, email_normalized, full_name, hashed_password) VALUES ($1, $2, $3, $4) RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $5::text, w.id, $7::uuid, $8::text, w.version, $6::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.prepareNewUser(a new email, a password)

-- params: $1 text, $2 null
SELECT 1 FROM "users" u WHERE u.email_normalized = $1 AND u.deleted_at IS NULL AND ($2::uuid IS NULL OR u.id <> $2::uuid);

-- UsersRepository.insertNewUser(a prepared new user)

-- params: $1 text, $2 text, $3 null, $4 text, $5 text, $6 unknown[0], $7 null, $8 null
WITH w AS (INSERT INTO "users" AS u (email, email_normalized, full_name, hashed_password) VALUES ($1, $2, $3, $4) RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $5::text, w.id, $7::uuid, $8::text, w.version, $6::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.upsertUser(a new email)

-- params: $1 text, $2 text, $3 null, $4 text, $5 null, $6 null, $7 null, $8 text, $9 unknown[0], $10 null, $11 null
WITH w AS (INSERT INTO "users" AS u (email, email_normalized, full_name, hashed_password, is_active, roles, metadata)
  VALUES ($1, $2, $3, $4, COALESCE($5, true), COALESCE($6, '{user}'::text[]), COALESCE($7, '{}'::jsonb))
  ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET email_normalized = EXCLUDED.email_normalized
  RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, (xmax = 0) AS inserted), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT CASE WHEN w.inserted THEN 'user.created' ELSE $8::text END, w.id, $10::uuid, $11::text, w.version, CASE WHEN w.inserted THEN '{}'::text[] ELSE $9::text[] END FROM w WHERE w.inserted
  ) SELECT w.* FROM w;

-- UsersRepository.upsertUser(a user's email, { fullName, roles })

-- params: $1 text, $2 text, $3 text, $4 text, $5 null, $6 text[2], $7 null, $8 text, $9 text[2], $10 null, $11 null
WITH w AS (INSERT INTO "users" AS u (email, email_normalized, full_name, hashed_password, is_active, roles, metadata)
  VALUES ($1, $2, $3, $4, COALESCE($5, true), COALESCE($6, '{user}'::text[]), COALESCE($7, '{}'::jsonb))
  ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET full_name = EXCLUDED.full_name, roles = EXCLUDED.roles, version = u.version + 1, updated_at = now()
  RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, (xmax = 0) AS inserted), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT CASE WHEN w.inserted THEN 'user.created' ELSE $8::text END, w.id, $10::uuid, $11::text, w.version, CASE WHEN w.inserted THEN '{}'::text[] ELSE $9::text[] END FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.upsertUserReportingCreation(a new email, { isActive: false, metadata, hashedPassword })

-- params: $1 text, $2 text, $3 null, $4 text, $5 bool, $6 null, $7 json, $8 text, $9 text[3], $10 null, $11 null
WITH w AS (INSERT INTO "users" AS u (email, email_normalized, full_name, hashed_password, is_active, roles, metadata)
  VALUES ($1, $2, $3, $4, COALESCE($5, true), COALESCE($6, '{user}'::text[]), COALESCE($7, '{}'::jsonb))
  ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET is_active = EXCLUDED.is_active, metadata = EXCLUDED.metadata, hashed_password = EXCLUDED.hashed_password, version = u.version + 1, updated_at = now()
  RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, (xmax = 0) AS inserted), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT CASE WHEN w.inserted THEN 'user.created' ELSE $8::text END, w.id, $10::uuid, $11::text, w.version, CASE WHEN w.inserted THEN '{}'::text[] ELSE $9::text[] END FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.partialUpdateUser(id, { fullName: 'Renamed' })

-- params: $1 uuid, $2 null, $3 text, $4 text, $5 text[1], $6 null, $7 null
WITH w AS (UPDATE "users" u SET full_name = $3, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NULL AND ($2::int IS NULL OR u.version = $2::int) RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $4::text, w.id, $6::uuid, $7::text, w.version, $5::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.partialUpdateUser(id, { email, isActive, metadata }, { expectedVersion: current })

-- params: $1 uuid, $2 int, $3 text, $4 text, $5 bool, $6 json, $7 text, $8 text[3], $9 null, $10 null
WITH w AS (UPDATE "users" u SET email = $3, email_normalized = $4, is_active = $5, metadata = $6::jsonb, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NULL AND ($2::int IS NULL OR u.version = $2::int) RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $7::text, w.id, $9::uuid, $10::text, w.version, $8::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.partialUpdateUser(id, {} (nothing to change))

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.partialUpdateUser(id, { fullName: 'Late' }, { expectedVersion: stale })
-- rejects with VERSION_CONFLICT

-- params: $1 uuid, $2 int, $3 text, $4 text, $5 text[1], $6 null, $7 null
WITH w AS (UPDATE "users" u SET full_name = $3, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NULL AND ($2::int IS NULL OR u.version = $2::int) RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $4::text, w.id, $6::uuid, $7::text, w.version, $5::text[] FROM w
  ) SELECT w.* FROM w;

-- params: $1 uuid
SELECT 1 FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.softDeleteUser(id of a live user)

-- params: $1 uuid, $2 text, $3 text[2], $4 null, $5 null
WITH w AS (UPDATE "users" u SET deleted_at = now(), is_deleted = true, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.restoreUser(id of a soft-deleted user)

-- params: $1 uuid, $2 text, $3 text[2], $4 null, $5 null
WITH w AS (UPDATE "users" u SET deleted_at = NULL, is_deleted = false, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NOT NULL AND u.anonymized_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.restoreUser(id of a live user (nothing to restore))

-- params: $1 uuid, $2 text, $3 text[2], $4 null, $5 null
WITH w AS (UPDATE "users" u SET deleted_at = NULL, is_deleted = false, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NOT NULL AND u.anonymized_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- params: $1 uuid
SELECT anonymized_at IS NOT NULL AS anonymized FROM "users" WHERE id = $1;

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.deactivateUser(id of an active user)

-- params: $1 uuid, $2 text, $3 text[1], $4 null, $5 null
WITH w AS (UPDATE "users" u SET is_active = false, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.is_active AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.deactivateUser(id of an inactive user (nothing to change))

-- params: $1 uuid, $2 text, $3 text[1], $4 null, $5 null
WITH w AS (UPDATE "users" u SET is_active = false, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.is_active AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

-- UsersRepository.reactivateUser(id of an inactive user)

-- params: $1 uuid, $2 text, $3 text[1], $4 null, $5 null
WITH w AS (UPDATE "users" u SET is_active = true, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND NOT u.is_active AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.updateLastLogin(id, 2026-05-01T12:00:00Z)

-- params: $1 uuid, $2 timestamptz, $3 text, $4 text[1], $5 null, $6 null
WITH w AS (UPDATE "users" u SET last_login_at = $2 WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $3::text, w.id, $5::uuid, $6::text, w.version, $4::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.changeUserPassword(id, a new hash)

-- params: $1 uuid, $2 text, $3 text, $4 text[1], $5 null, $6 null
WITH w AS (UPDATE "users" u SET hashed_password = $2, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $3::text, w.id, $5::uuid, $6::text, w.version, $4::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.replaceUserPasswordHash(id, the current hash, a new hash)

-- params: $1 uuid, $2 text, $3 text, $4 text, $5 text[1], $6 null, $7 null
WITH w AS (UPDATE "users" u SET hashed_password = $3, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.hashed_password = $2 AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $4::text, w.id, $6::uuid, $7::text, w.version, $5::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.endUserSessions(id of a live user)

-- params: $1 uuid, $2 text, $3 unknown[0], $4 null, $5 null
WITH w AS (UPDATE "users" u SET token_epoch = gen_random_uuid() WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING u.id, u.version), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.assignRoleToUser(id, 'editor')

-- params: $1 uuid, $2 text, $3 text, $4 text[1], $5 null, $6 null
WITH w AS (UPDATE "users" u SET roles = array_append(u.roles, $2), version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND NOT ($2 = ANY(u.roles)) AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $3::text, w.id, $5::uuid, $6::text, w.version, $4::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.revokeRoleFromUser(id of an editor, 'editor')

-- params: $1 uuid, $2 text, $3 text, $4 text[1], $5 null, $6 null
WITH w AS (UPDATE "users" u SET roles = array_remove(u.roles, $2), version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND $2 = ANY(u.roles) AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $3::text, w.id, $5::uuid, $6::text, w.version, $4::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.bulkCreateUsers(three new users with hashed passwords)

-- params: $1 text[3]
SELECT email_normalized FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL;

START TRANSACTION;

SELECT now() AS now, now()::text AS exact;

COPY "users" (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at) FROM STDIN;

-- params: $1 text, $2 unknown[0], $3 null, $4 null, $5 uuid[3], $6 int[3]
INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $1::text, w.id, $3::uuid, $4::text, w.version, $2::text[] FROM unnest($5::uuid[], $6::int[]) AS w(id, version);

COMMIT;

-- UsersRepository.bulkUpdateUsers(three ids, { isActive: false, metadata: { plan: 'team' } })

-- params: $1 uuid[3], $2 bool, $3 json, $4 text, $5 text[2], $6 null, $7 null
WITH w AS (UPDATE "users" u SET is_active = $2, metadata = $3::jsonb, version = u.version + 1, updated_at = now()
  WHERE u.id = ANY($1::uuid[]) AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $4::text, w.id, $6::uuid, $7::text, w.version, $5::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.bulkDeleteUsers(two ids)

-- params: $1 uuid[2], $2 text, $3 unknown[0], $4 null, $5 null
WITH w AS (DELETE FROM "users" WHERE id = ANY($1::uuid[]) RETURNING id, version), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- UsersRepository.exportUsersToCsv()

-- params: $1 text
SELECT set_config('statement_timeout', $1, false);

COPY (SELECT u.id::text, u.email, u.full_name, u.is_active::text, u.is_deleted::text, u.deleted_at, to_jsonb(u.roles)::text, u.metadata::text, u.created_at, u.updated_at, u.last_login_at, u.version::text FROM "users" u WHERE u.deleted_at IS NULL) TO STDOUT (FORMAT binary);

RESET statement_timeout;

-- UsersRepository.exportUsersToCsv({ withDeleted: true })

-- params: $1 text
SELECT set_config('statement_timeout', $1, false);

COPY (SELECT u.id::text, u.email, u.full_name, u.is_active::text, u.is_deleted::text, u.deleted_at, to_jsonb(u.roles)::text, u.metadata::text, u.created_at, u.updated_at, u.last_login_at, u.version::text FROM "users" u WHERE TRUE) TO STDOUT (FORMAT binary);

RESET statement_timeout;

-- UsersRepository.exportUsersToJson()

-- params: $1 text
SELECT set_config('statement_timeout', $1, false);

COPY (SELECT u.id::text, u.email, u.full_name, u.is_active::text, u.is_deleted::text, u.deleted_at, to_json(u.roles)::text, u.metadata::text, u.created_at, u.updated_at, u.last_login_at, u.version::text FROM "users" u WHERE u.deleted_at IS NULL) TO STDOUT (FORMAT binary);

RESET statement_timeout;

-- UsersRepository.exportUsersToJson({ prologue: the REST route's audit row })

-- params: $1 null[1], $2 null, $3 text, $4 json, $5 null
INSERT INTO "audit_log" (user_id, actor_id, action, details, request_id)
  SELECT t.id, $2::uuid, $3::text, $4::jsonb || jsonb_build_object('targetIds', CASE WHEN t.id IS NULL THEN '[]'::jsonb ELSE jsonb_build_array(t.id) END), $5::text
  FROM unnest($1::uuid[]) AS t(id);

-- params: $1 text
SELECT set_config('statement_timeout', $1, false);

COPY (SELECT u.id::text, u.email, u.full_name, u.is_active::text, u.is_deleted::text, u.deleted_at, to_json(u.roles)::text, u.metadata::text, u.created_at, u.updated_at, u.last_login_at, u.version::text FROM "users" u WHERE u.deleted_at IS NULL) TO STDOUT (FORMAT binary);

RESET statement_timeout;

-- UsersRepository.importUsersFromDicts(two new rows)

-- params: $1 text[2]
SELECT email_normalized FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL;

START TRANSACTION;

SELECT now() AS now, now()::text AS exact;

COPY "users" (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at) FROM STDIN;

-- params: $1 text, $2 unknown[0], $3 null, $4 null, $5 uuid[2], $6 int[2]
INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $1::text, w.id, $3::uuid, $4::text, w.version, $2::text[] FROM unnest($5::uuid[], $6::int[]) AS w(id, version);

COMMIT;

-- UsersRepository.importUsersFromDicts(a row with an id and a row of an existing user, { onConflict: 'skip' })

-- params: $1 uuid[1]
SELECT id, email_normalized, deleted_at IS NOT NULL AS deleted FROM "users" WHERE id = ANY($1::uuid[]);

-- params: $1 text[2]
SELECT email_normalized FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL;

START TRANSACTION;

CREATE TEMP TABLE users_insert_staging (ord int, id uuid, email text, email_normalized text, full_name text, hashed_password text,
  is_active boolean, roles text[], metadata jsonb, created_at timestamptz, last_login_at timestamptz) ON COMMIT DROP;

COPY users_insert_staging FROM STDIN;

-- params: $1 text, $2 unknown[0], $3 null, $4 null
WITH w AS (INSERT INTO "users" AS u (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at)
  SELECT COALESCE(r.id, gen_random_uuid()), r.email, r.email_normalized, r.full_name, r.hashed_password, r.is_active, r.roles, r.metadata,
  COALESCE(r.created_at, now()), COALESCE(r.created_at, now()), r.last_login_at
  FROM users_insert_staging r ORDER BY r.ord
  ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO NOTHING
  RETURNING u.id, u.email, u.email_normalized, u.metadata, u.created_at, u.updated_at, u.last_login_at, u.version, (u.xmax = 0) AS inserted), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT CASE WHEN w.inserted THEN 'user.created' ELSE $1::text END, w.id, $3::uuid, $4::text, w.version, CASE WHEN w.inserted THEN '{}'::text[] ELSE $2::text[] END FROM w WHERE w.inserted
  ) SELECT w.* FROM w;

DROP TABLE users_insert_staging;

COMMIT;

-- UsersRepository.importUsersFromDicts(a new row and a row of an existing user, { onConflict: 'update' })

-- params: $1 text[2]
SELECT email_normalized FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL;

START TRANSACTION;

-- params: $1 text[2]
SELECT email_normalized, full_name, is_active, roles, metadata FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL FOR UPDATE;

CREATE TEMP TABLE users_insert_staging (ord int, id uuid, email text, email_normalized text, full_name text, hashed_password text,
  is_active boolean, roles text[], metadata jsonb, created_at timestamptz, last_login_at timestamptz) ON COMMIT DROP;

COPY users_insert_staging FROM STDIN;

-- params: $1 text, $2 text[4], $3 null, $4 null
WITH w AS (INSERT INTO "users" AS u (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at)
  SELECT COALESCE(r.id, gen_random_uuid()), r.email, r.email_normalized, r.full_name, r.hashed_password, r.is_active, r.roles, r.metadata,
  COALESCE(r.created_at, now()), COALESCE(r.created_at, now()), r.last_login_at
  FROM users_insert_staging r ORDER BY r.ord
  ON CONFLICT (email_normalized) WHERE deleted_at IS NULL DO UPDATE SET full_name = EXCLUDED.full_name,
  is_active = EXCLUDED.is_active, roles = EXCLUDED.roles, metadata = EXCLUDED.metadata,
  hashed_password = CASE WHEN EXCLUDED.hashed_password = '!' THEN u.hashed_password ELSE EXCLUDED.hashed_password END,
  version = u.version + 1, updated_at = now()
  RETURNING u.id, u.email, u.email_normalized, u.metadata, u.created_at, u.updated_at, u.last_login_at, u.version, (u.xmax = 0) AS inserted), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT CASE WHEN w.inserted THEN 'user.created' ELSE $1::text END, w.id, $3::uuid, $4::text, w.version, CASE WHEN w.inserted THEN '{}'::text[] ELSE CASE WHEN s.hashed_password <> '!' THEN $2::text[] || 'password'::text ELSE $2::text[] END END FROM w JOIN users_insert_staging s ON s.email_normalized = w.email_normalized
  ) SELECT w.* FROM w;

DROP TABLE users_insert_staging;

COMMIT;

-- UsersRepository.importUsersFromDicts(two new rows, { dryRun: true })

-- params: $1 text[2]
SELECT email_normalized FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL;

-- UsersRepository.prepareImport(two new rows)

-- params: $1 text[2]
SELECT email_normalized FROM "users" WHERE email_normalized = ANY($1::text[]) AND deleted_at IS NULL;

-- UsersRepository.writeImport(two prepared new rows)

START TRANSACTION;

SELECT now() AS now, now()::text AS exact;

COPY "users" (id, email, email_normalized, full_name, hashed_password, is_active, roles, metadata, created_at, updated_at, last_login_at) FROM STDIN;

-- params: $1 text, $2 unknown[0], $3 null, $4 null, $5 uuid[2], $6 int[2]
INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $1::text, w.id, $3::uuid, $4::text, w.version, $2::text[] FROM unnest($5::uuid[], $6::int[]) AS w(id, version);

COMMIT;

-- UsersRepository.anonymizeUser(id of a live user)

START TRANSACTION;

-- params: $1 uuid
SELECT email, email_normalized, full_name, anonymized_at IS NOT NULL AS anonymized FROM "users" WHERE id = $1 FOR UPDATE;

-- params: $1 uuid, $2 text, $3 text
UPDATE "users" u SET email = $2, email_normalized = $2, full_name = NULL, metadata = '{}', hashed_password = $3,
  last_login_at = NULL, is_active = false, deleted_at = COALESCE(u.deleted_at, now()), is_deleted = true,
  anonymized_at = now(), version = u.version + 1, updated_at = now()
  WHERE u.id = $1 RETURNING u.version;

-- params: $1 uuid, $2 text[2], $3 text[1]
UPDATE "audit_log" a SET details = CASE WHEN s.mentions THEN '{"redacted": true}'::jsonb ELSE a.details - $2::text[] END
  FROM (SELECT id, EXISTS (SELECT 1 FROM unnest($3::text[]) AS n WHERE strpos(lower((details - $2::text[])::text), n) > 0) AS mentions
  FROM "audit_log" WHERE user_id = $1) s
  WHERE a.id = s.id AND (s.mentions OR a.details ?| $2::text[]);

-- params: $1 uuid
UPDATE "outbox_deliveries" SET last_error = 'redacted by an erasure' WHERE user_id = $1 AND last_error IS NOT NULL;

-- params: $1 text, $2 text[8], $3 null, $4 null, $5 uuid[1], $6 int[1]
INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $1::text, w.id, $3::uuid, $4::text, w.version, $2::text[] FROM unnest($5::uuid[], $6::int[]) AS w(id, version);

-- params: $1 uuid, $2 null, $3 text, $4 json, $5 null
INSERT INTO "audit_log" (user_id, actor_id, action, details, request_id) VALUES ($1, $2, $3, $4::jsonb, $5);

COMMIT;

-- UsersRepository.anonymizeUser(id of an anonymized user (nothing to change))

START TRANSACTION;

-- params: $1 uuid
SELECT email, email_normalized, full_name, anonymized_at IS NOT NULL AS anonymized FROM "users" WHERE id = $1 FOR UPDATE;

COMMIT;

-- UsersRepository.auditLogUserChange(id, 'user.updated', { fields: ['fullName'] })

-- params: $1 uuid, $2 null, $3 text, $4 json, $5 null
INSERT INTO "audit_log" (user_id, actor_id, action, details, request_id) VALUES ($1, $2, $3, $4::jsonb, $5);

-- UsersRepository.getAuditLog(id of an audited user, { limit: 10 })

-- params: $1 uuid, $2 int, $3 int
SELECT id::text AS id, user_id, actor_id, action, details, request_id, created_at
  FROM "audit_log" WHERE user_id = $1 ORDER BY created_at DESC, id DESC OFFSET $2 LIMIT $3;

-- params: $1 uuid
SELECT count(*)::int AS total FROM "audit_log" WHERE user_id = $1;

-- UsersRepository.dbTransaction(partialUpdateUser and auditLogUserChange)

START TRANSACTION;

-- params: $1 uuid, $2 null, $3 text, $4 text, $5 text[1], $6 null, $7 null
WITH w AS (UPDATE "users" u SET full_name = $3, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.deleted_at IS NULL AND ($2::int IS NULL OR u.version = $2::int) RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $4::text, w.id, $6::uuid, $7::text, w.version, $5::text[] FROM w
  ) SELECT w.* FROM w;

-- params: $1 uuid, $2 null, $3 text, $4 json, $5 null
INSERT INTO "audit_log" (user_id, actor_id, action, details, request_id) VALUES ($1, $2, $3, $4::jsonb, $5);

COMMIT;

-- UsersRepository.dbTransaction(deactivateUser, then a failing step (rolled back))
-- rejects with USER_NOT_FOUND

START TRANSACTION;

-- params: $1 uuid, $2 text, $3 text[1], $4 null, $5 null
WITH w AS (UPDATE "users" u SET is_active = false, version = u.version + 1, updated_at = now()
  WHERE u.id = $1 AND u.is_active AND u.deleted_at IS NULL RETURNING u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

-- params: $1 uuid
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact, u.token_epoch::text AS token_epoch FROM "users" u WHERE u.id = $1 AND u.deleted_at IS NULL;

ROLLBACK;

-- UsersRepository.dbTransaction(a nested dbTransaction around endUserSessions (joins the outer one))

START TRANSACTION;

-- params: $1 uuid, $2 text, $3 unknown[0], $4 null, $5 null
WITH w AS (UPDATE "users" u SET token_epoch = gen_random_uuid() WHERE u.id = $1 AND u.deleted_at IS NULL RETURNING u.id, u.version), e AS (
  INSERT INTO "outbox" (type, user_id, actor_id, request_id, version, changed_fields)
  SELECT $2::text, w.id, $4::uuid, $5::text, w.version, $3::text[] FROM w
  ) SELECT w.* FROM w;

COMMIT;

-- UsersRepository.dbSessionContext(work: getUsersByIds)

-- params: $1 uuid[1]
SELECT u.id, u.email, u.full_name, u.is_active, u.is_deleted, u.deleted_at, u.roles, u.metadata,
  u.created_at, u.updated_at, u.last_login_at, u.version, to_char(u.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') AS created_at_exact FROM unnest($1::uuid[]) WITH ORDINALITY AS wanted(id, position)
  JOIN "users" u ON u.id = wanted.id WHERE u.deleted_at IS NULL ORDER BY wanted.position;

SELECT now() = statement_timestamp() AS idle;

CLOSE ALL; RESET ALL; UNLISTEN *; SELECT pg_advisory_unlock_all(); DISCARD TEMP; DISCARD SEQUENCES;
