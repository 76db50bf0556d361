import { existsSync } from 'node:fs';
import { AppConfig, ConfigError, parseEnv } from './app-config';

// For entry points (server, CLIs): a bad environment ends the process with one clear line.
export function loadConfigOrExit(): AppConfig {
  if (existsSync('.env')) process.loadEnvFile('.env');
  try {
    return parseEnv(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }
}
