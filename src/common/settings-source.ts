import type { InjectionToken, ModuleMetadata, OptionalFactoryDependency } from '@nestjs/common';

// How a cross-cutting module receives its settings from the module that imports it (the
// `imports` / `inject` / `useFactory` convention of Nest's own forRootAsync).
export interface SettingsSource<T> {
  imports?: ModuleMetadata['imports'];
  inject?: (InjectionToken | OptionalFactoryDependency)[];
  useFactory: (...args: never[]) => T | Promise<T>;
}
