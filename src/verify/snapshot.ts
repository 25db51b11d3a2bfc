/**
 * Reads the current state of every target (see targets.ts) from the real servers, as canonical
 * JSON, so that two snapshots can be compared with string equality. `null` means absent.
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Driver } from 'neo4j-driver';
import type { HttpServiceClient } from '../backends/http/adapter.js';
import { quoteIdent, quoteTable } from '../backends/postgres/adapter.js';
import type { RedisClient } from '../backends/kv/adapter.js';
import type { VectorEngine, StoredPoint } from '../backends/vector/adapter.js';
import type { Json, JsonObject } from '../saga/contracts.js';
import { stableJson, type NodeKey, type Target, type TargetSpec } from './targets.js';

export interface SnapshotDeps {
  pool: pg.Pool;
  neo4j: Driver;
  s3: S3Client;
  redis: RedisClient;
  vector: VectorEngine;
  http: HttpServiceClient;
}

/** target id → canonical JSON of what is there (`null` when absent). */
export type Snapshot = Map<string, string>;

const sha256 = (data: string | Uint8Array): string => createHash('sha256').update(data).digest('hex');
const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,62}$/;

function ident(name: string): string {
  if (!IDENT.test(name)) throw new Error(`unsafe identifier ${JSON.stringify(name)}`);
  return `\`${name}\``;
}

/** Neo4j values → JSON (temporal and spatial values as strings, big integers as strings). */
function neoJson(v: unknown): Json {
  if (v === null || v === undefined) return null;
  if (typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return v.toString();
  if (Array.isArray(v)) return v.map(neoJson);
  if (typeof v === 'object') {
    const proto = Object.getPrototypeOf(v) as object | null;
    if (proto === Object.prototype || proto === null) {
      return Object.fromEntries(
        Object.entries(v as Record<string, unknown>).map(([k, x]) => [k, neoJson(x)]),
      );
    }
    // Temporal (Date, Duration, …) and spatial values have a meaningful toString().
    return (v as { toString(): string }).toString();
  }
  return null;
}

/** Values in a canonical order (by their canonical JSON), so that equal sets compare equal. */
function sortStable(values: Json[]): Json[] {
  return values
    .map((v) => [stableJson(v), v] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0))
    .map(([, v]) => v);
}

function nodeMatch(alias: string, n: NodeKey, params: Record<string, unknown>, prefix: string): string {
  const props = Object.keys(n.key).map((k, i) => {
    params[`${prefix}${i}`] = n.key[k];
    return `${ident(k)}: $${prefix}${i}`;
  });
  return `(${alias}:${ident(n.label)} {${props.join(', ')}})`;
}

function pointJson(p: StoredPoint): Json {
  return { id: p.id, vector: p.vector, metadata: p.metadata, document: p.document };
}

async function pgRow(pool: pg.Pool, table: string, key: JsonObject): Promise<Json> {
  const cols = Object.keys(key);
  const where = cols.map((c, i) => `t.${quoteIdent(c)} IS NOT DISTINCT FROM $${i + 1}`).join(' AND ');
  const params = cols.map((c) => {
    const v = key[c];
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? JSON.stringify(v) : v;
  });
  try {
    const r = await pool.query<{ row: JsonObject }>(
      `SELECT to_jsonb(t) AS row FROM ${quoteTable(table)} AS t WHERE ${where}`,
      params,
    );
    const rows = sortStable(r.rows.map((x) => x.row));
    return rows.length === 0 ? null : rows;
  } catch (err) {
    // A missing table holds no row. If the saga writes to it, its step fails and the run reports
    // that (create the table first, e.g. with --setup <file.sql>).
    if ((err as { code?: string }).code === '42P01') return null;
    throw err;
  }
}

async function s3Object(s3: S3Client, bucket: string, key: string): Promise<Json> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const bytes = (await r.Body?.transformToByteArray()) ?? new Uint8Array();
    return { size: bytes.length, sha256: sha256(bytes) };
  } catch (err) {
    const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
    if (
      e.name === 'NoSuchKey' ||
      e.name === 'NotFound' ||
      e.name === 'NoSuchBucket' ||
      e.$metadata?.httpStatusCode === 404
    )
      return null;
    throw err;
  }
}

async function kvKey(redis: RedisClient, key: string): Promise<Json> {
  const type = await redis.type(key);
  if (type === 'none') return null;
  if (type !== 'string') return { type };
  const value = await redis.get(key);
  const pttl = await redis.pTTL(key);
  return { value: value === null ? null : String(value), expires: Number(pttl) >= 0 };
}

async function httpFiles(
  http: HttpServiceClient,
  spec: Extract<TargetSpec, { kind: 'http-files' }>,
): Promise<Json> {
  const p = encodeURIComponent(spec.projectId);
  const key = `polysaga-verify-read-${Date.now()}`;
  const list = await http.request(
    { service: spec.service, method: 'GET', path: `/files/${p}`, userId: spec.userId },
    key,
  );
  const files = ((list.body as { files?: unknown } | null)?.files ?? []) as string[];
  if (files.length === 0) return null;
  const out: JsonObject = {};
  for (const f of [...files].sort()) {
    const path = f.split('/').map(encodeURIComponent).join('/');
    const r = await http.request(
      {
        service: spec.service,
        method: 'GET',
        path: `/file/${p}/${path}`,
        userId: spec.userId,
        okStatuses: [404],
      },
      key,
    );
    out[f] = r.status === 404 ? null : sha256(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
  }
  return out;
}

async function httpGit(
  http: HttpServiceClient,
  spec: Extract<TargetSpec, { kind: 'http-git' }>,
): Promise<Json> {
  const r = await http.request(
    {
      service: spec.service,
      method: 'GET',
      path: `/snapshot/${encodeURIComponent(spec.projectId)}`,
      userId: spec.userId,
    },
    `polysaga-verify-read-${Date.now()}`,
  );
  const snaps = ((r.body as { snapshots?: unknown } | null)?.snapshots ?? []) as {
    commit?: string;
    message?: string;
  }[];
  return snaps.length === 0 ? null : snaps.map((s) => `${s.commit ?? ''} ${s.message ?? ''}`);
}

/** Reads one target. */
export async function readTarget(deps: SnapshotDeps, spec: TargetSpec): Promise<Json> {
  switch (spec.kind) {
    case 'pg-row':
      return pgRow(deps.pool, spec.table, spec.key);
    case 'neo4j-node': {
      const params: Record<string, unknown> = {};
      const q = `MATCH ${nodeMatch('n', spec, params, 'k')} RETURN labels(n) AS labels, properties(n) AS props`;
      const r = await deps.neo4j.executeQuery(q, params);
      const nodes = sortStable(
        r.records.map((rec) => ({ labels: neoJson(rec.get('labels')), props: neoJson(rec.get('props')) })),
      );
      return nodes.length === 0 ? null : nodes;
    }
    case 'neo4j-rel': {
      const params: Record<string, unknown> = {};
      const q = `MATCH ${nodeMatch('a', spec.from, params, 'f')}-[r:${ident(spec.type)}]->${nodeMatch('b', spec.to, params, 't')} RETURN properties(r) AS props`;
      const r = await deps.neo4j.executeQuery(q, params);
      const rels = sortStable(r.records.map((rec) => neoJson(rec.get('props'))));
      return rels.length === 0 ? null : rels;
    }
    case 'vector-points': {
      const pts = await deps.vector.get(spec.collection, spec.ids);
      return pts.length === 0 ? null : [...pts].sort((a, b) => a.id.localeCompare(b.id)).map(pointJson);
    }
    case 'vector-filter': {
      const pts = await deps.vector.find(
        spec.collection,
        spec.filter as Record<string, string | number | boolean>,
      );
      return pts.length === 0 ? null : [...pts].sort((a, b) => a.id.localeCompare(b.id)).map(pointJson);
    }
    case 's3-object':
      return s3Object(deps.s3, spec.bucket, spec.key);
    case 'kv-key':
      return kvKey(deps.redis, spec.key);
    case 'http-files':
      return httpFiles(deps.http, spec);
    case 'http-git':
      return httpGit(deps.http, spec);
  }
}

/** Reads every target. */
export async function takeSnapshot(deps: SnapshotDeps, targets: readonly Target[]): Promise<Snapshot> {
  const out: Snapshot = new Map();
  for (const t of targets) {
    try {
      out.set(t.id, stableJson(await readTarget(deps, t.spec)));
    } catch (err) {
      throw new Error(`cannot snapshot ${t.id}: ${(err as Error).message}`, { cause: err });
    }
  }
  return out;
}
