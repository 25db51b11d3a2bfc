/**
 * Reads the current state of every target (see targets.ts) from the real servers, as canonical
 * JSON, so that two snapshots can be compared with string equality. `null` means absent. Each
 * store's reader is in its backend's folder (`src/backends/<name>/snapshot.ts`).
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type pg from 'pg';
import type { Driver } from 'neo4j-driver';
import type { HttpServiceClient } from '../backends/http/adapter.js';
import { httpFiles, httpGit } from '../backends/http/snapshot.js';
import type { RedisClient } from '../backends/kv/adapter.js';
import { kvKey } from '../backends/kv/snapshot.js';
import { readNodes, readRelationships } from '../backends/neo4j/snapshot.js';
import { pgRow } from '../backends/postgres/snapshot.js';
import { s3Object } from '../backends/s3/snapshot.js';
import type { VectorEngine } from '../backends/vector/adapter.js';
import { readFiltered, readPoints } from '../backends/vector/snapshot.js';
import type { Json } from '../saga/contracts.js';
import type { BackendSnapshot, ConnectContext } from '../backends/define.js';
import { stableJson, type Target, type TargetSpec } from './targets.js';

export interface SnapshotDeps {
  pool: pg.Pool;
  neo4j: Driver;
  s3: S3Client;
  redis: RedisClient;
  vector: VectorEngine;
  http: HttpServiceClient;
  /** Snapshots of the other backends (defineBackend's `snapshot`) and what their `read` is given. */
  defined?: { snapshots: Readonly<Record<string, BackendSnapshot>>; ctx: ConnectContext };
}

/** target id → canonical JSON of what is there (`null` when absent). */
export type Snapshot = Map<string, string>;

/** Reads one target. */
export async function readTarget(deps: SnapshotDeps, spec: TargetSpec): Promise<Json> {
  switch (spec.kind) {
    case 'pg-row':
      return pgRow(deps.pool, spec.table, spec.key);
    case 'neo4j-node':
      return readNodes(deps.neo4j, spec);
    case 'neo4j-rel':
      return readRelationships(deps.neo4j, spec.from, spec.type, spec.to);
    case 'vector-points':
      return readPoints(deps.vector, spec.collection, spec.ids);
    case 'vector-filter':
      return readFiltered(
        deps.vector,
        spec.collection,
        spec.filter as Record<string, string | number | boolean>,
      );
    case 's3-object':
      return s3Object(deps.s3, spec.bucket, spec.key);
    case 'kv-key':
      return kvKey(deps.redis, spec.key);
    case 'http-files':
      return httpFiles(deps.http, spec);
    case 'http-git':
      return httpGit(deps.http, spec);
    case 'defined': {
      const snapshot = deps.defined?.snapshots[spec.backend];
      if (!snapshot || !deps.defined) throw new Error(`backend "${spec.backend}" has no snapshot reader`);
      return snapshot.read(spec.target, deps.defined.ctx);
    }
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
