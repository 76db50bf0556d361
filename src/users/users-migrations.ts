import type { DataSource } from 'typeorm';
import type { TableNaming } from '../database/table-names';

// Placeholder until the naming branch lands: applies nothing.
export function runUsersMigrations(_dataSource: DataSource, _naming: TableNaming): Promise<string[]> {
  return Promise.reject(new Error('runUsersMigrations is not merged yet'));
}
