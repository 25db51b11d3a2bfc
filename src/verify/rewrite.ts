/**
 * Per-run instantiation of a definition for `polysaga verify`: every run gets a fresh saga id and
 * fresh entity ids, so that runs never collide with each other, with earlier verify runs or with
 * other sagas on the same servers.
 *
 * Rules (docs/verify.md, "Fresh ids per run"):
 * - a run tag `v<k>-<6 hex>` is made per run;
 * - every occurrence of a *token* inside a string of the definition's steps (payloads, inline
 *   compensations, idempotency keys), its `sagaId`, `traceId` and `identityKey` is replaced by
 *   `<token>-<tag>`. Tokens: the definition's `sagaId`, the id part of its `identityKey` (after
 *   the first `:`, when at least 3 characters long) and any `--rewrite` token; longer tokens win;
 * - the placeholder `{{run}}` is replaced by the tag;
 * - a definition without `sagaId` gets `<name>-verify-<tag>`; an `identityKey` that no token
 *   changed gets `:verify-<tag>` appended (the identity lock must not collide either).
 * Object keys, step ids, backends, operations and numbers are never rewritten.
 */
import { randomBytes } from 'node:crypto';
import { fillSagaIdPlaceholders, SAGA_ID_PLACEHOLDER } from '../saga/saga-id-placeholder.js';

export const RUN_PLACEHOLDER = '{{run}}';

/** A run tag: `v<position>-<6 hex>`. Safe in ids, keys, paths and S3 keys. */
export function runTag(position: number): string {
  return `v${position}-${randomBytes(3).toString('hex')}`;
}

/**
 * The definition with its `${sagaId}` placeholders filled (saga-id-placeholder.ts), so that the
 * tokens below see the ids as they will be written; without a `sagaId`, `fallback` becomes the
 * saga id (null: left unfilled).
 */
function withSagaIdFilled(definition: unknown, fallback: string | null): unknown {
  const sagaId = (definition as { sagaId?: unknown } | null)?.sagaId;
  if (typeof sagaId !== 'string' && fallback === null) return definition;
  return fillSagaIdPlaceholders(definition, () => fallback ?? '');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The tokens that are rewritten per run (see the module comment), longest first, deduplicated. */
export function rewriteTokens(definition: unknown, extra: readonly string[] = []): string[] {
  definition = withSagaIdFilled(definition, null);
  const def = (typeof definition === 'object' && definition !== null ? definition : {}) as {
    sagaId?: unknown;
    identityKey?: unknown;
  };
  const out = new Set<string>();
  if (typeof def.sagaId === 'string' && def.sagaId !== '') out.add(def.sagaId);
  if (typeof def.identityKey === 'string') {
    const i = def.identityKey.indexOf(':');
    const idPart = i >= 0 ? def.identityKey.slice(i + 1) : '';
    if (idPart.length >= 3 && !idPart.includes('{{') && !idPart.includes(SAGA_ID_PLACEHOLDER))
      out.add(idPart);
  }
  for (const t of extra) if (t !== '') out.add(t);
  return [...out].sort((a, b) => b.length - a.length || a.localeCompare(b));
}

/** Replaces tokens and `{{run}}` in every string of `value` (not in object keys). */
export function rewriteStrings(value: unknown, replace: (s: string) => string): unknown {
  if (typeof value === 'string') return replace(value);
  if (Array.isArray(value)) return value.map((v) => rewriteStrings(v, replace));
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, rewriteStrings(v, replace)]));
  }
  return value;
}

export interface InstantiatedRun {
  tag: string;
  sagaId: string;
  /** The definition as it is started for this run (still un-normalized JSON). */
  definition: Record<string, unknown>;
}

/**
 * The definition of one verify run: fresh saga id, fresh entity ids (tokens → `<token>-<tag>`,
 * `{{run}}` → tag), unique identity key.
 */
export function instantiateRun(definition: unknown, tag: string, tokens: readonly string[]): InstantiatedRun {
  if (typeof definition !== 'object' || definition === null || Array.isArray(definition)) {
    throw new TypeError('a saga definition must be a JSON object');
  }
  const name = (definition as { name?: unknown }).name;
  const src = withSagaIdFilled(
    definition,
    `${typeof name === 'string' ? name : 'saga'}-verify-${tag}`,
  ) as Record<string, unknown>;
  const pattern = tokens.length > 0 ? new RegExp(tokens.map(escapeRegExp).join('|'), 'g') : null;
  const replace = (s: string): string => {
    const r = s.split(RUN_PLACEHOLDER).join(tag);
    return pattern ? r.replace(pattern, (m) => `${m}-${tag}`) : r;
  };
  const out: Record<string, unknown> = { ...src };
  out.steps = rewriteStrings(src.steps, replace);
  const sagaId =
    typeof src.sagaId === 'string'
      ? replace(src.sagaId)
      : `${typeof src.name === 'string' ? src.name : 'saga'}-verify-${tag}`;
  out.sagaId = sagaId;
  out.traceId = typeof src.traceId === 'string' ? replace(src.traceId) : sagaId;
  if (typeof src.identityKey === 'string') {
    const k = replace(src.identityKey);
    out.identityKey = k === src.identityKey ? `${k}:verify-${tag}` : k;
  }
  return { tag, sagaId, definition: out };
}
