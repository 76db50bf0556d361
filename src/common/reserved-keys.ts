// Keys that pollute prototypes once a consumer assigns or merges a value into a plain object.
// JSON.parse creates them as ordinary own keys, so they are looked for at every depth.
const RESERVED_KEYS = new Set(['__proto__', 'constructor', 'prototype']);

export const RESERVED_KEYS_REASON = 'is a reserved key (__proto__, constructor, prototype)';

function isContainer(value: unknown): value is Record<string, unknown> | unknown[] {
  if (typeof value !== 'object' || value === null) return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return Array.isArray(value) || proto === Object.prototype || proto === null;
}

// The dotted paths (`a.0.constructor`) of every reserved key inside plain objects and arrays.
// Iterative with a visited set, so neither depth nor a cycle costs more than one pass.
export function reservedKeyPaths(root: unknown, rootPath = ''): string[] {
  const found: string[] = [];
  const visited = new WeakSet<object>();
  const pending: [unknown, string][] = [[root, rootPath]];
  for (let next = pending.pop(); next !== undefined; next = pending.pop()) {
    const [value, path] = next;
    if (!isContainer(value) || visited.has(value)) continue;
    visited.add(value);
    for (const key of Object.keys(value)) {
      const keyPath = path ? `${path}.${key}` : key;
      if (RESERVED_KEYS.has(key)) found.push(keyPath);
      else pending.push([(value as Record<string, unknown>)[key], keyPath]);
    }
  }
  return found.sort();
}

// A JSON value without its reserved keys, for tools that cannot take them (class-transformer
// throws on a `constructor` that is not a function); the caller reports the paths it removed.
export function withoutReservedKeys(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value, (key, inner: unknown) => (RESERVED_KEYS.has(key) ? undefined : inner)));
}
