/** Small JSON helpers shared by the backends. */
import type { Json } from '../saga/contracts.js';

/** Stable string form of a JSON value (object keys sorted), for equality checks. */
export function canonicalJson(value: unknown): string {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const obj = value as Record<string, unknown>;
  return `{${Object.keys(obj)
    .filter((k) => obj[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(obj[k])}`)
    .join(',')}}`;
}

/** Deep equality of JSON values (object key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  return canonicalJson(a) === canonicalJson(b);
}

/** Converts any value to plain JSON (drops undefined, Dates → ISO strings, bigint → string). */
export function toJson(value: unknown): Json {
  return JSON.parse(
    JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v)) ?? 'null',
  ) as Json;
}

/** Values in a canonical order (by {@link canonicalJson}), so that equal sets compare equal. */
export function sortStable(values: Json[]): Json[] {
  return values
    .map((v) => [canonicalJson(v), v] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, v]) => v);
}
