// The indexes the module's migrations create, under the default naming, sorted: the schema
// tests check that every query has its index, and the naming tests that a prefix renames them all.
export const MODULE_INDEXES = [
  'IDX_audit_log_user_id_created_at',
  'IDX_files_user_id_created_at',
  'IDX_outbox_deliveries_destination',
  'IDX_outbox_deliveries_errors',
  'IDX_outbox_deliveries_order',
  'IDX_outbox_deliveries_pending',
  'IDX_outbox_unrouted',
  'IDX_users_created_at_id',
  'IDX_users_last_login_at',
  'IDX_users_live_active_created_at_id',
  'IDX_users_live_created_at_id',
  'IDX_users_live_last_seen',
  'IDX_users_live_search',
  'IDX_users_metadata',
  'IDX_users_roles',
  'IDX_users_search_trgm',
  'IDX_webhooks_created_at_id',
  'PK_audit_log',
  'PK_files',
  'PK_outbox',
  'PK_outbox_deliveries',
  'PK_outbox_destinations',
  'PK_users',
  'PK_webhooks',
  'UQ_outbox_id',
  'UQ_users_email_normalized_live',
];

// The module's tables, under the default naming.
export const MODULE_TABLES = ['users', 'files', 'audit_log', 'outbox', 'outbox_deliveries', 'outbox_destinations', 'webhooks'];
