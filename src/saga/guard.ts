/**
 * Guarded stores: the objects a step may not touch (polysaga's own tables, Redis keys, S3
 * prefix and Neo4j labels) and the optional allowlists per backend (docs/security.md,
 * "Guarded stores"). Pure: the client and the CLI check a definition with it before a saga
 * starts, and the worker checks every operation again before it runs (defence in depth).
 *
 * The catalog says which payload fields name a target ({@link OperationSpec.targets}); this
 * module decides, one function per kind of target, whether the target is allowed.
 */
import type { OperationSpec } from './catalog.js';

/** A store object that a step operation writes or reads, named by one payload field. */
export type StoreTarget =
  | { kind: 'table'; field: string; table: string }
  | { kind: 'label'; field: string; label: string }
  | { kind: 'key'; field: string; key: string }
  | { kind: 'object'; field: string; bucket: string | undefined; key: string; access: 'write' | 'read' }
  | { kind: 'collection'; field: string; collection: string };

/**
 * Allowlists per backend; `undefined` (unset): every object except polysaga's own. Entries
 * ending in `*` match every name with that prefix.
 */
export interface StoreAllowlists {
  /** `schema.table`, `schema.*` or `table` (= `public.table`) (env `POLYSAGA_ALLOW_POSTGRES_TABLES`). */
  postgresTables?: string[];
  /** Node labels (env `POLYSAGA_ALLOW_NEO4J_LABELS`). */
  neo4jLabels?: string[];
  /** Redis key prefixes (env `POLYSAGA_ALLOW_KV_PREFIXES`). */
  kvPrefixes?: string[];
  /** `bucket/key-prefix` (env `POLYSAGA_ALLOW_S3_PREFIXES`). */
  s3Prefixes?: string[];
  /** Vector collections (env `POLYSAGA_ALLOW_VECTOR_COLLECTIONS`). */
  vectorCollections?: string[];
}

/** What polysaga owns and what the deployment allows; see {@link resolveStoreGuard}. */
export interface StoreGuard {
  /** `PROJECT_PREFIX`: polysaga's Redis keys live under `<projectPrefix>:` (default `polysaga`). */
  projectPrefix: string;
  /** `S3_BUCKET`: the bucket of an s3 step that names none (default `polysaga`). */
  s3Bucket: string;
  allow: StoreAllowlists;
}

/** The environment variable of each allowlist (named in refusals). */
export const ALLOWLIST_VARIABLES = {
  postgresTables: 'POLYSAGA_ALLOW_POSTGRES_TABLES',
  neo4jLabels: 'POLYSAGA_ALLOW_NEO4J_LABELS',
  kvPrefixes: 'POLYSAGA_ALLOW_KV_PREFIXES',
  s3Prefixes: 'POLYSAGA_ALLOW_S3_PREFIXES',
  vectorCollections: 'POLYSAGA_ALLOW_VECTOR_COLLECTIONS',
} as const satisfies Record<keyof StoreAllowlists, string>;

/** The audit table (migrations/0001). */
export const AUDIT_TABLE = 'uds3_saga_events';
/**
 * Every other table, view and function of polysaga starts with this (idempotency, blobs, the
 * migrations table `polysaga_schema_migrations`, the monitoring views of migration 0004).
 */
export const RESERVED_TABLE_PREFIX = 'polysaga_';
/** Neo4j labels of polysaga (the idempotency nodes `PolysagaIdempotency`), any case. */
export const RESERVED_LABEL_PREFIX = 'polysaga';
/** S3 key prefix of polysaga's before-images and client uploads, in every bucket. */
export const RESERVED_S3_PREFIX = 'polysaga/';
/** A step may read (as `source`) what the client uploaded for it (`bodyFile`). */
export const UPLOADS_S3_PREFIX = 'polysaga/uploads/';

/** The guard with defaults filled in. */
export function resolveStoreGuard(partial: Partial<StoreGuard> = {}): StoreGuard {
  return {
    projectPrefix: partial.projectPrefix ?? 'polysaga',
    s3Bucket: partial.s3Bucket ?? 'polysaga',
    allow: partial.allow ?? {},
  };
}

/** One refusal: the payload field (relative to the step) and why. */
export interface GuardIssue {
  field: string;
  message: string;
}

function matches(entry: string, name: string): boolean {
  return entry.endsWith('*') ? name.startsWith(entry.slice(0, -1)) : name === entry;
}

function notAllowed(value: string, list: keyof StoreAllowlists, entries: string[]): string {
  return `${JSON.stringify(value)} is not in the allowlist ${ALLOWLIST_VARIABLES[list]} (${entries.join(', ')})`;
}

function reserved(value: string): string {
  return `${JSON.stringify(value)} is reserved for polysaga`;
}

/** `schema.table` of a step's table; an unqualified table is taken as `public.table`. */
function qualify(table: string): string {
  return table.includes('.') ? table : `public.${table}`;
}

/**
 * A postgres table: never polysaga's own (in any schema, any case), never a system catalog; in
 * the allowlist if one is set.
 */
export function checkTable(table: string, guard: StoreGuard): string | null {
  // PostgreSQL folds unquoted names to lower case; polysaga quotes them, but a refusal in any
  // case keeps `UDS3_SAGA_EVENTS` or `Public.Polysaga_Blobs` from even looking like a way in.
  const parts = table.toLowerCase().split('.');
  const name = parts[parts.length - 1] ?? '';
  const schema = parts.length > 1 ? parts[0] : undefined;
  if (name === AUDIT_TABLE || name.startsWith(RESERVED_TABLE_PREFIX)) return reserved(table);
  // pg_catalog comes first on every search path: an unqualified `pg_authid` is the catalog's.
  if (schema === 'information_schema' || (schema ?? name).startsWith('pg_'))
    return `${JSON.stringify(table)} is a PostgreSQL system catalog`;
  const allow = guard.allow.postgresTables;
  if (allow && !allow.some((e) => matches(qualify(e), qualify(table))))
    return notAllowed(table, 'postgresTables', allow);
  return null;
}

/** A Neo4j label: never one of polysaga's (`Polysaga…`, any case); in the allowlist if one is set. */
export function checkLabel(label: string, guard: StoreGuard): string | null {
  if (label.toLowerCase().startsWith(RESERVED_LABEL_PREFIX)) return reserved(label);
  const allow = guard.allow.neo4jLabels;
  if (allow && !allow.some((e) => matches(e, label))) return notAllowed(label, 'neo4jLabels', allow);
  return null;
}

/** A Redis key: never under `<PROJECT_PREFIX>:`; under an allowed prefix if a list is set. */
export function checkKey(key: string, guard: StoreGuard): string | null {
  if (key.startsWith(`${guard.projectPrefix}:`))
    return `${JSON.stringify(key)} is reserved for polysaga (keys under "${guard.projectPrefix}:", PROJECT_PREFIX)`;
  const allow = guard.allow.kvPrefixes;
  if (allow && !allow.some((e) => key.startsWith(e.endsWith('*') ? e.slice(0, -1) : e)))
    return notAllowed(key, 'kvPrefixes', allow);
  return null;
}

/**
 * An S3 object: never under `polysaga/` (before-images, uploads) in any bucket, except that a
 * step may read what the client uploaded for it; under an allowed `bucket/prefix` if a list is set.
 */
export function checkObject(
  bucket: string | undefined,
  key: string,
  access: 'write' | 'read',
  guard: StoreGuard,
): string | null {
  // S3 keys are literal, but some S3-compatible servers map keys onto file paths: check the key
  // as a path would resolve too ("/polysaga/…", "docs/../polysaga/…", "polysaga//…").
  const k = normalizeKey(key);
  const b = bucket ?? guard.s3Bucket;
  const upload = access === 'read' && b === guard.s3Bucket && k.startsWith(UPLOADS_S3_PREFIX);
  if (upload) return null;
  if (k.startsWith(RESERVED_S3_PREFIX))
    return `${JSON.stringify(key)} is reserved for polysaga (keys under "${RESERVED_S3_PREFIX}")`;
  const allow = guard.allow.s3Prefixes;
  const full = `${b}/${k}`;
  if (allow && !allow.some((e) => full.startsWith(e.endsWith('*') ? e.slice(0, -1) : e)))
    return notAllowed(full, 's3Prefixes', allow);
  return null;
}

/** `key` with empty and `.` segments dropped and `..` segments resolved, as a file path would. */
function normalizeKey(key: string): string {
  const out: string[] = [];
  const segments = key.split('/');
  segments.forEach((seg, i) => {
    if (seg === '..') out.pop();
    else if (seg !== '.' && (seg !== '' || i === segments.length - 1)) out.push(seg);
  });
  return out.join('/');
}

/** A vector collection: in the allowlist if one is set (polysaga keeps no collection of its own). */
export function checkCollection(collection: string, guard: StoreGuard): string | null {
  const allow = guard.allow.vectorCollections;
  if (allow && !allow.some((e) => matches(e, collection)))
    return notAllowed(collection, 'vectorCollections', allow);
  return null;
}

/** Whether a value is still a `{{…}}` template (an inline compensation's; checked once filled, by the worker). */
function isTemplate(value: string): boolean {
  return value.includes('{{');
}

/** Checks one target; null when it is allowed. */
export function checkTarget(target: StoreTarget, guard: StoreGuard): string | null {
  switch (target.kind) {
    case 'table':
      return isTemplate(target.table) ? null : checkTable(target.table, guard);
    case 'label':
      return isTemplate(target.label) ? null : checkLabel(target.label, guard);
    case 'key':
      return isTemplate(target.key) ? null : checkKey(target.key, guard);
    case 'object':
      return isTemplate(target.key) || (target.bucket !== undefined && isTemplate(target.bucket))
        ? null
        : checkObject(target.bucket, target.key, target.access, guard);
    case 'collection':
      return isTemplate(target.collection) ? null : checkCollection(target.collection, guard);
  }
}

/**
 * Every refusal for one operation's payload (already parsed by the operation's schema). Fields
 * are relative to the payload (`table`, `from.label`, `source.key`).
 */
export function checkOperationTargets(op: OperationSpec, payload: unknown, guard: StoreGuard): GuardIssue[] {
  if (!op.targets) return [];
  const issues: GuardIssue[] = [];
  for (const t of op.targets(payload as never)) {
    const message = checkTarget(t, guard);
    if (message !== null) issues.push({ field: t.field, message });
  }
  return issues;
}
