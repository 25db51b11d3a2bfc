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

// ---------------------------------------------------------------------------------------------
// Secrets masked by value (docs/security.md, "Secrets masked by value")
// ---------------------------------------------------------------------------------------------

/** What replaces a configured secret value wherever it appears. */
export const MASK = '***';

/**
 * Shortest secret value that is masked. Shorter values (`abc`, `1234`) would turn ordinary
 * words and numbers into `***` everywhere; the configuration reports them (see
 * `maskableSecrets` in src/config/index.ts) instead.
 */
export const MIN_MASKED_SECRET_LENGTH = 8;

/**
 * The strings that stand for one secret value: the value itself, its URL-encoded form (a
 * password inside a connection URL) and, for list-shaped values (`id1:key1,id2:key2`, a key
 * ring), each element and the part of an element after its first `:` or `=`.
 */
export function secretForms(value: string): string[] {
  const forms = new Set<string>([value]);
  const encoded = encodeURIComponent(value);
  if (encoded !== value) forms.add(encoded);
  for (const part of value.split(/[,;\s]+/)) {
    forms.add(part);
    const sep = part.search(/[:=]/);
    if (sep >= 0) forms.add(part.slice(sep + 1));
  }
  return [...forms].filter((f) => f.length >= MIN_MASKED_SECRET_LENGTH);
}

/**
 * Replaces configured secret values by {@link MASK} in text, in JSON values (strings and keys,
 * at any depth) and in errors (message, stack, details and the whole cause chain). Pure: built
 * from the secret values only, no I/O; masking is idempotent.
 */
export class SecretMasker {
  // Private: a logger printing an object that holds the masker (the worker's options) must not show them.
  readonly #needles: readonly string[];

  constructor(values: Iterable<string | undefined>) {
    const all = new Set<string>();
    for (const v of values) if (typeof v === 'string') for (const f of secretForms(v)) all.add(f);
    this.#needles = [...all].sort((a, b) => b.length - a.length);
  }

  /** Every form of every secret, longest first (a longer form containing a shorter one wins). */
  get needles(): readonly string[] {
    return this.#needles;
  }

  /** A masker that masks nothing. */
  static readonly none = new SecretMasker([]);

  /** Whether there is anything to mask. */
  get active(): boolean {
    return this.#needles.length > 0;
  }

  /** Whether `text` holds a secret. */
  contains(text: string): boolean {
    return this.#needles.some((n) => text.includes(n));
  }

  /** `text` with every secret replaced by {@link MASK}. */
  text(text: string): string {
    let out = text;
    for (const n of this.#needles) if (out.includes(n)) out = out.split(n).join(MASK);
    return out;
  }

  /**
   * A copy of a JSON-like value with every secret in strings and object keys replaced (the
   * value itself when nothing matched). Values other than plain objects, arrays and strings
   * (numbers, byte arrays, dates) are kept as they are.
   */
  json<T>(value: T): T {
    if (!this.active) return value;
    const seen = new WeakSet<object>();
    const walk = (v: unknown): unknown => {
      if (typeof v === 'string') return this.text(v);
      if (v === null || typeof v !== 'object' || seen.has(v)) return v;
      if (Array.isArray(v)) {
        seen.add(v);
        let changed = false;
        const out = v.map((x) => {
          const y = walk(x);
          if (y !== x) changed = true;
          return y;
        });
        seen.delete(v);
        return changed ? out : v;
      }
      const proto = Object.getPrototypeOf(v) as unknown;
      if (proto !== Object.prototype && proto !== null) return v;
      seen.add(v);
      let changed = false;
      const entries = Object.entries(v).map(([k, x]): [string, unknown] => {
        const k2 = this.text(k);
        const y = walk(x);
        if (k2 !== k || y !== x) changed = true;
        return [k2, y];
      });
      seen.delete(v);
      if (!changed) return v;
      const out: Record<string, unknown> = {};
      // defineProperty: a key named __proto__ stays an own property.
      for (const [k, y] of entries)
        Object.defineProperty(out, k, { value: y, enumerable: true, writable: true, configurable: true });
      return out;
    };
    return walk(value) as T;
  }

  /**
   * Masks an error in place (message, stack, `details` of an ApplicationFailure, every
   * `cause`) and returns it, so that what reaches Temporal, the audit table and the logs never
   * holds a secret. Anything else thrown is returned masked as text.
   */
  error<E>(err: E): E {
    if (!this.active) return err;
    if (typeof err === 'string') return this.text(err) as E;
    const seen = new Set<unknown>();
    let e: unknown = err;
    while (e !== null && typeof e === 'object' && !seen.has(e)) {
      seen.add(e);
      const o = e as { message?: unknown; stack?: unknown; details?: unknown; cause?: unknown };
      for (const key of ['message', 'stack'] as const) {
        const v = o[key];
        if (typeof v === 'string' && this.contains(v)) {
          try {
            Object.defineProperty(o, key, {
              value: this.text(v),
              writable: true,
              configurable: true,
              enumerable: Object.prototype.propertyIsEnumerable.call(o, key),
            });
          } catch {
            // A frozen error: nothing to do but leave it (callers mask the text they derive).
          }
        }
      }
      if (Array.isArray(o.details)) {
        const masked = this.json(o.details);
        if (masked !== o.details) {
          try {
            Object.defineProperty(o, 'details', { value: masked, writable: true, configurable: true });
          } catch {
            // see above
          }
        }
      }
      e = o.cause;
    }
    return err;
  }
}
