/**
 * Redaction of sensitive payload fields before they reach the audit table.
 * Pure: no I/O.
 */
import type { Json } from '../saga/contracts.js';

/** What replaces a sensitive value. */
export const REDACTED = '[REDACTED]';

/**
 * Returns a deep copy of `value` in which every object property whose key equals one of
 * `sensitiveFields` (case-insensitively, at any depth, also inside arrays) has its value
 * replaced by {@link REDACTED}. The input is not modified.
 */
export function redact<T extends Json | undefined>(value: T, sensitiveFields: readonly string[]): T {
  if (sensitiveFields.length === 0 || value === undefined) return value;
  const keys = new Set(sensitiveFields.map((f) => f.toLowerCase()));
  const walk = (v: Json): Json => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: { [key: string]: Json } = {};
      for (const [k, child] of Object.entries(v)) out[k] = keys.has(k.toLowerCase()) ? REDACTED : walk(child);
      return out;
    }
    return v;
  };
  return walk(value) as T;
}
