// Where the module's tables live in the host's database: an optional PostgreSQL schema and an
// optional prefix on every table and object name, so that a host whose database already has a
// `users` table can keep it.
export interface TableNaming {
  // Default: none; names stay unqualified and resolve through the connection's search_path.
  schema?: string;
  // Default: ''. Goes in front of every table name, and into the name of every index,
  // constraint, function and trigger the migrations create.
  tablePrefix?: string;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]*$/;
const MAX_IDENTIFIER_BYTES = 63;
// The longest name the module derives (an index of users); a prefix must leave it within
// PostgreSQL's 63 bytes, past which the server silently truncates, and two names could clash.
const LONGEST_NAME = 'IDX_users_live_active_created_at_id';
export const MAX_TABLE_PREFIX_LENGTH = MAX_IDENTIFIER_BYTES - LONGEST_NAME.length;
// An upper-case tag naming the kind of object (UQ_, IDX_, PK_, FK_, CHK_, TRG_).
const KIND_TAG = /^[A-Z]+_/;
// The 13-digit timestamp TypeORM requires at the end of a migration's name.
const MIGRATION_TIMESTAMP = /\d{13}$/;

// The names of the module's tables and objects under one naming, for SQL. The default naming
// gives exactly the names the module always had: `"users"`, `"files"`, `"audit_log"`, unqualified.
export class TableNames {
  readonly schema: string | undefined;
  readonly prefix: string;
  // Quoted and schema-qualified, ready for SQL.
  readonly users: string;
  readonly files: string;
  readonly auditLog: string;
  // The user lifecycle events (the transactional outbox) and their deliveries.
  readonly outbox: string;
  readonly outboxDeliveries: string;
  readonly outboxDestinations: string;
  // Webhook subscriptions (the relay's destinations `webhook:<id>`).
  readonly webhooks: string;
  // Where runUsersMigrations records what it applied.
  readonly migrations: string;

  constructor(naming: TableNaming = {}) {
    const { schema, tablePrefix = '' } = naming;
    if (schema !== undefined) {
      if (typeof schema !== 'string' || !IDENTIFIER.test(schema) || schema.length > MAX_IDENTIFIER_BYTES) {
        throw new Error(`schema must be a lower-case SQL identifier (${IDENTIFIER.source}) of at most ${MAX_IDENTIFIER_BYTES} characters, got ${JSON.stringify(schema)}`);
      }
      if (schema.startsWith('pg_')) throw new Error(`schema must not start with "pg_" (reserved by PostgreSQL), got ${JSON.stringify(schema)}`);
    }
    if (tablePrefix !== '' && (typeof tablePrefix !== 'string' || !IDENTIFIER.test(tablePrefix))) {
      throw new Error(`tablePrefix must be empty or a lower-case SQL identifier (${IDENTIFIER.source}), got ${JSON.stringify(tablePrefix)}`);
    }
    if (tablePrefix.length > MAX_TABLE_PREFIX_LENGTH) {
      throw new Error(`tablePrefix must be at most ${MAX_TABLE_PREFIX_LENGTH} characters, so that every derived name fits PostgreSQL's ${MAX_IDENTIFIER_BYTES}, got ${tablePrefix.length}`);
    }
    this.schema = schema;
    this.prefix = tablePrefix;
    this.users = this.qualified('users');
    this.files = this.qualified('files');
    this.auditLog = this.qualified('audit_log');
    this.outbox = this.qualified('outbox');
    this.outboxDeliveries = this.qualified('outbox_deliveries');
    this.outboxDestinations = this.qualified('outbox_destinations');
    this.webhooks = this.qualified('webhooks');
    this.migrations = this.qualified('users_migrations');
  }

  get isDefault(): boolean {
    return this.schema === undefined && this.prefix === '';
  }

  // The name of one of the module's objects under this naming, unquoted. The rule: the prefix
  // goes after the kind tag when the name has one (UQ_users_email -> UQ_app_users_email), else
  // in front (users_rotate_token_epoch -> app_users_rotate_token_epoch).
  objectName(name: string): string {
    const tag = KIND_TAG.exec(name)?.[0] ?? '';
    const derived = `${tag}${this.prefix}${name.slice(tag.length)}`;
    if (Buffer.byteLength(derived) > MAX_IDENTIFIER_BYTES) {
      throw new Error(`${derived} is longer than PostgreSQL's ${MAX_IDENTIFIER_BYTES} bytes: a shorter tablePrefix is needed`);
    }
    return derived;
  }

  // objectName, quoted: for indexes, constraints and triggers, which live in their table's schema.
  object(name: string): string {
    return quote(this.objectName(name));
  }

  // objectName, quoted and schema-qualified: for tables and functions.
  qualified(name: string): string {
    return this.schema === undefined ? quote(this.objectName(name)) : `${quote(this.schema)}.${quote(this.objectName(name))}`;
  }

  // A prepared statement's name: statements are per connection, and two namings may share a pool.
  statement(name: string): string {
    return this.schema === undefined ? this.objectName(name) : `${this.schema}.${this.objectName(name)}`;
  }

  // A migration's name under this naming: unchanged for the default naming (the rows already in
  // a `migrations` table keep matching), else `[schema.prefix]` before the timestamp, so that
  // two namings in one host's migrations never share a name.
  migrationName(name: string): string {
    if (!MIGRATION_TIMESTAMP.test(name)) throw new Error(`migration name ${name} must end with a 13-digit timestamp`);
    if (this.isDefault) return name;
    const at = name.length - 13;
    return `${name.slice(0, at)}[${this.schema === undefined ? '' : `${this.schema}.`}${this.prefix}]${name.slice(at)}`;
  }
}

function quote(identifier: string): string {
  return `"${identifier}"`;
}
