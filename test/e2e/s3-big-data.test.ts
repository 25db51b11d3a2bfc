/**
 * Big S3 data in real sagas (in-process worker + SagaClient against the local stack): object
 * bytes never enter Temporal history. (a) A step overwrites an existing 20 MiB object, a later
 * step fails, the saga is ROLLED_BACK and the object has exactly its old bytes again. (b) A
 * 50 MiB body given as a local `bodyFile` is uploaded by the client, copied server-side by the
 * step, and the saga commits. Both histories stay under 64 KiB of payload bytes.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createWriteStream, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import type { Client, Connection } from '@temporalio/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3Client } from '../../src/backends/s3/adapter.js';
import { connectTemporalClient, SagaClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createSagaWorker, type SagaWorker } from '../../src/workers/index.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const taskQueue = `polysaga-e2e-s3big-${run}`;
const prefix = `e2e-s3big-${run}/`;
const bucket = config.s3.bucket;
const MiB = 1024 * 1024;
let worker: SagaWorker;
let running: Promise<void>;
let temporal: Client;
let connection: Connection;
let sagas: SagaClient;
let s3: S3Client;
let dir: string;
const sagaIds: string[] = [];

/** SHA-256 of an object, streamed (the test never holds the object either). */
async function objectSha256(key: string): Promise<string> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  const hash = createHash('sha256');
  for await (const chunk of r.Body as Readable) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

async function list(under: string): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under }));
  // S3Proxy's filesystem backend lists emptied directories as `…/` keys: not objects.
  return (r.Contents ?? []).map((o) => o.Key!).filter((k) => !k.endsWith('/'));
}

/** Total bytes of every payload (and other binary field) in a workflow's history. */
async function historyPayloadBytes(sagaId: string): Promise<number> {
  const history = await temporal.workflow.getHandle(sagaId).fetchHistory();
  let total = 0;
  const walk = (v: unknown): void => {
    if (v instanceof Uint8Array) total += v.length;
    else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(history);
  return total;
}

beforeAll(async () => {
  s3 = createS3Client(config.s3);
  dir = mkdtempSync(join(tmpdir(), 'polysaga-s3big-'));
  worker = await createSagaWorker({ config, taskQueue });
  running = worker.run();
  ({ client: temporal, connection } = await connectTemporalClient(config));
  sagas = new SagaClient({ client: temporal, taskQueue, s3: config.s3 });
});

afterAll(async () => {
  const left = [
    ...(await list(prefix).catch(() => [])),
    ...(
      await Promise.all(
        sagaIds.flatMap((id) => [
          list(`polysaga/uploads/${id}/`).catch(() => []),
          list(`polysaga/before-images/${id}/`).catch(() => []),
        ]),
      )
    ).flat(),
  ];
  for (const k of left) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
  s3?.destroy();
  await connection?.close();
  await worker?.shutdown();
  await running?.catch(() => undefined);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('big S3 data in sagas (real worker, real S3)', () => {
  it('overwrite of a 20 MiB object, then a later step fails: ROLLED_BACK with the old bytes back', async () => {
    const key = `${prefix}report.bin`;
    const old = randomBytes(20 * MiB);
    const oldSha = createHash('sha256').update(old).digest('hex');
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: key, Body: old, ContentType: 'application/pdf' }),
    );
    const sagaId = `e2e-s3big-rollback-${run}`;
    sagaIds.push(sagaId);
    const result = await sagas.executeSaga({
      name: 'e2e-s3big-rollback',
      sagaId,
      steps: [
        { id: 'overwrite', backend: 's3', operation: 'put_object', payload: { key, body: 'new' } },
        {
          id: 'later',
          backend: 's3',
          operation: 'copy_object',
          payload: { key: `${prefix}copy.bin`, sourceKey: `${prefix}does-not-exist` },
        },
      ],
    });
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.failedAt).toBe('later');
    const overwrite = result.status.steps.find((s) => s.id === 'overwrite');
    // The step ran (its result references the out-of-band before-image) and was undone.
    expect(overwrite?.result).toMatchObject({ before: { absent: false, size: 20 * MiB } });
    expect(await objectSha256(key)).toBe(oldSha);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(20 * MiB);
    expect(head.ContentType).toBe('application/pdf');
    expect(await list(`polysaga/before-images/${sagaId}/`)).toEqual([]); // deleted after the restore
    expect(await historyPayloadBytes(sagaId)).toBeLessThan(64 * 1024);
  });

  it('a 50 MiB bodyFile is uploaded by the client, copied by the step, and the saga commits', async () => {
    const file = join(dir, 'video.bin');
    const hash = createHash('sha256');
    const out = createWriteStream(file);
    for (let i = 0; i < 50; i++) {
      const chunk = randomBytes(MiB);
      hash.update(chunk);
      if (!out.write(chunk)) await new Promise<void>((r) => out.once('drain', () => r()));
    }
    await new Promise<void>((resolve, reject) =>
      out.end((err?: Error | null) => (err ? reject(err) : resolve())),
    );
    const sha = hash.digest('hex');

    const key = `${prefix}video.mp4`;
    const sagaId = `e2e-s3big-commit-${run}`;
    sagaIds.push(sagaId);
    const started = await sagas.createSaga({
      name: 'e2e-s3big-commit',
      sagaId,
      steps: [
        {
          id: 'video',
          backend: 's3',
          operation: 'put_object',
          payload: { key, bodyFile: file, contentType: 'video/mp4' },
        },
      ],
    });
    const result = await started.result();
    expect(result.status.state).toBe('COMMITTED');
    // The workflow got a reference instead of the file.
    const payload = result.definition.steps[0]!.payload;
    expect(payload.bodyFile).toBeUndefined();
    expect(payload.source).toMatchObject({ bucket });
    expect(String((payload.source as { key: string }).key)).toMatch(
      new RegExp(`^polysaga/uploads/${sagaId}/video/`),
    );
    expect(await objectSha256(key)).toBe(sha);
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(50 * MiB);
    expect(head.ContentType).toBe('video/mp4');
    expect(await historyPayloadBytes(sagaId)).toBeLessThan(64 * 1024);
  });
});
