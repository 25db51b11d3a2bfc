/**
 * Opens every backend client from the configuration (the worker's composition root calls this
 * once) and closes them on shutdown. Nothing here connects eagerly except Redis, whose client
 * needs `connect()` before its first command.
 */
import { postgresAs, type Config } from '../config/index.js';
import { createPgPool, PgIdempotencyStore, PostgresAdapter, type PgPool } from './postgres/adapter.js';
import { createNeo4jDriver, Neo4jAdapter } from './neo4j/adapter.js';
import { createS3Client, S3Adapter } from './s3/adapter.js';
import { createRedisClient, RedisAdapter } from './kv/adapter.js';
import { ChromaEngine, QdrantEngine, type VectorEngine } from './vector/adapter.js';
import { HttpServiceClient } from './http/adapter.js';

export * from './postgres/adapter.js';
export * from './neo4j/adapter.js';
export * from './s3/adapter.js';
export * from './kv/adapter.js';
export * from './vector/adapter.js';
export * from './http/adapter.js';

export interface Adapters {
  /** polysaga's own pool: audit rows, blobs, write-ahead records of S3 and vector (`POSTGRES_AUDIT_USER`, else `POSTGRES_USER`). */
  pool: PgPool;
  /** The pool of postgres steps (`POSTGRES_STEP_USER`; unset: {@link pool}). */
  stepPool: PgPool;
  idempotency: PgIdempotencyStore;
  postgres: PostgresAdapter;
  neo4j: Neo4jAdapter;
  s3: S3Adapter;
  kv: RedisAdapter;
  vector: VectorEngine;
  http: HttpServiceClient;
  /** Closes every client (pool, driver, sockets). */
  close(): Promise<void>;
}

/** Chooses the vector engine of `VECTOR_ENGINE` (chroma by default; qdrant needs QDRANT_URL). */
export function createVectorEngine(cfg: Config['vector']): VectorEngine {
  if (cfg.engine === 'qdrant') {
    if (!cfg.qdrantUrl) throw new Error('VECTOR_ENGINE=qdrant needs QDRANT_URL');
    return new QdrantEngine({ url: cfg.qdrantUrl, apiKey: cfg.qdrantApiKey });
  }
  return new ChromaEngine({ url: cfg.chromaUrl });
}

/**
 * Creates the clients of every built-in backend. Pass `pool` to share the worker's PostgreSQL
 * pool (the idempotency table lives in the same database as the relational backend). With
 * `POSTGRES_STEP_USER` set, postgres steps run on a pool of their own under that role
 * (docs/security.md, "Least-privilege roles").
 */
export async function openAdapters(config: Config, opts: { pool?: PgPool } = {}): Promise<Adapters> {
  const pool = opts.pool ?? createPgPool(postgresAs(config.postgres, 'audit'));
  const ownsPool = opts.pool === undefined;
  const stepPool = config.postgres.step ? createPgPool(postgresAs(config.postgres, 'step')) : pool;
  const idempotency = new PgIdempotencyStore(pool);
  const driver = createNeo4jDriver(config.neo4j);
  const s3Client = createS3Client(config.s3);
  const redis = await createRedisClient(config.redis.url);
  return {
    pool,
    stepPool,
    idempotency,
    postgres: new PostgresAdapter(stepPool),
    neo4j: new Neo4jAdapter(driver),
    s3: new S3Adapter(s3Client, { bucket: config.s3.bucket, idempotency }),
    kv: new RedisAdapter(redis, { prefix: config.kvPrefix }),
    vector: createVectorEngine(config.vector),
    http: new HttpServiceClient(config.http),
    async close() {
      await Promise.allSettled([
        driver.close(),
        redis.quit(),
        ownsPool ? pool.end() : Promise.resolve(),
        stepPool !== pool ? stepPool.end() : Promise.resolve(),
      ]);
      s3Client.destroy();
    },
  };
}
