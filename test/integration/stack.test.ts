/**
 * Foundation smoke test: every server of the local stack answers a write and a read-back
 * through the same client library polysaga's adapters use.
 */
import { randomUUID } from 'node:crypto';
import { GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { QdrantClient } from '@qdrant/js-client-rest';
import { Connection } from '@temporalio/client';
import { ChromaClient } from 'chromadb';
import neo4j from 'neo4j-driver';
import pg from 'pg';
import { createClient } from 'redis';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const config = loadConfig();
const id = randomUUID();

describe('local stack', () => {
  it('PostgreSQL stores and returns a row (pg)', async () => {
    const client = new pg.Client({ ...config.postgres });
    await client.connect();
    try {
      await client.query('CREATE TABLE IF NOT EXISTS stack_smoke (id text PRIMARY KEY, v int)');
      await client.query('INSERT INTO stack_smoke (id, v) VALUES ($1, 42)', [id]);
      const r = await client.query<{ v: number }>('SELECT v FROM stack_smoke WHERE id = $1', [id]);
      expect(r.rows).toEqual([{ v: 42 }]);
    } finally {
      await client.end();
    }
  });

  it('Neo4j stores and returns a node over Bolt (neo4j-driver)', async () => {
    const driver = neo4j.driver(config.neo4j.url, neo4j.auth.basic(config.neo4j.user, config.neo4j.password));
    try {
      await driver.executeQuery('CREATE (:StackSmoke {id: $id, v: 7})', { id });
      const r = await driver.executeQuery('MATCH (n:StackSmoke {id: $id}) RETURN n.v AS v', { id });
      expect(r.records.map((x) => Number(x.get('v')))).toEqual([7]);
    } finally {
      await driver.close();
    }
  });

  it('S3Proxy stores and returns an object (@aws-sdk/client-s3, path-style)', async () => {
    const s3 = new S3Client({
      endpoint: config.s3.endpoint,
      region: config.s3.region,
      forcePathStyle: true,
      // S3Proxy rejects the SDK's default flexible checksums (x-amz-checksum-crc32).
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      credentials: { accessKeyId: config.s3.accessKeyId!, secretAccessKey: config.s3.secretAccessKey! },
    });
    try {
      const Key = `smoke/${id}.txt`;
      await s3.send(new PutObjectCommand({ Bucket: config.s3.bucket, Key, Body: 'hello s3' }));
      const got = await s3.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key }));
      expect(await got.Body?.transformToString()).toBe('hello s3');
    } finally {
      s3.destroy();
    }
  });

  it('Redis stores and returns a key (redis)', async () => {
    const redis = createClient({ url: config.redis.url });
    await redis.connect();
    try {
      await redis.set(`smoke:${id}`, 'v1', { EX: 60 });
      expect(await redis.get(`smoke:${id}`)).toBe('v1');
    } finally {
      await redis.quit();
    }
  });

  it('Chroma stores and returns a vector (chromadb, explicit embeddings)', async () => {
    const url = new URL(config.vector.chromaUrl);
    const chroma = new ChromaClient({ host: url.hostname, port: Number(url.port), ssl: false });
    const col = await chroma.getOrCreateCollection({ name: `smoke-${id}`, embeddingFunction: null });
    await col.add({ ids: ['a'], embeddings: [[0.1, 0.2, 0.3]], metadatas: [{ doc: id }] });
    const got = await col.get({ ids: ['a'], include: ['metadatas', 'embeddings'] });
    expect(got.ids).toEqual(['a']);
    expect(got.metadatas[0]).toEqual({ doc: id });
    await chroma.deleteCollection({ name: `smoke-${id}` });
  });

  it('the Qdrant REST test double stores and returns a point (@qdrant/js-client-rest)', async () => {
    const url = process.env.QDRANT_DOUBLE_URL;
    expect(url, 'QDRANT_DOUBLE_URL from the stack environment').toBeTruthy();
    const qdrant = new QdrantClient({ url: url!, checkCompatibility: false });
    const collection = `smoke-${id}`;
    await qdrant.createCollection(collection, { vectors: { size: 3, distance: 'Cosine' } });
    await qdrant.upsert(collection, {
      wait: true,
      points: [{ id: 1, vector: [0.1, 0.2, 0.3], payload: { doc: id } }],
    });
    const got = await qdrant.retrieve(collection, { ids: [1], with_payload: true });
    expect(got.map((p) => p.payload)).toEqual([{ doc: id }]);
  });

  it('Temporal answers on its frontend and serves the Web UI', async () => {
    const connection = await Connection.connect({ address: config.temporal.address });
    try {
      const info = await connection.workflowService.getSystemInfo({});
      expect(info.serverVersion).toBeTruthy();
      const attrs = await connection.operatorService.listSearchAttributes({
        namespace: config.temporal.namespace,
      });
      expect(Object.keys(attrs.customAttributes)).toEqual(
        expect.arrayContaining(['SagaName', 'SagaState', 'TraceId', 'IdentityKey']),
      );
    } finally {
      await connection.close();
    }
    const ui = await fetch(config.temporal.uiUrl);
    expect(ui.status).toBe(200);
  });
});
