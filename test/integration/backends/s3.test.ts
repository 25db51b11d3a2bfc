/**
 * s3 backend against the real S3 server of the stack (S3Proxy, path-style): put (inline body or
 * `source`), delete, copy, their compensations run twice, the double-run idempotency check,
 * out-of-band before-images (captured by server-side copy before the write, restored and
 * verified, then deleted), multipart copies, conflicts, error mapping.
 */
import { createHash, randomBytes } from 'node:crypto';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { ApplicationFailure } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import {
  BEFORE_IMAGE_PREFIX,
  createS3Client,
  S3Adapter,
  type BeforeImage,
} from '../../../src/backends/s3/adapter.js';
import { createPgPool, PgIdempotencyStore, type PgPool } from '../../../src/backends/postgres/adapter.js';
import { createS3Backend } from '../../../src/backends/s3/runtime.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes, type JsonObject } from '../../../src/saga/contracts.js';
import { compensationInput, expectFailure, stepInput as baseStepInput, uniq } from './helpers.js';

let s3: S3Client;
let pool: PgPool;
let bucket: string;
let acts: ReturnType<typeof createStepActivities>;
let idempotency: PgIdempotencyStore;
const prefix = `${uniq('bk')}/`;
const sagas: string[] = [];
/** A step input whose saga's before-images are removed after the tests. */
const stepInput = (...args: Parameters<typeof baseStepInput>) => {
  const s = baseStepInput(...args);
  sagas.push(s.sagaId);
  return s;
};
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function read(key: string): Promise<string | null> {
  try {
    const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return (await r.Body?.transformToString()) ?? '';
  } catch (err) {
    if ((err as { name?: string }).name === 'NoSuchKey') return null;
    throw err;
  }
}
const write = (key: string, body: string) =>
  s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentType: 'text/plain' }));
async function readBytes(key: string): Promise<Uint8Array> {
  const r = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return r.Body!.transformToByteArray();
}
async function keys(under = prefix): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: under }));
  // S3Proxy's filesystem backend lists emptied directories as `…/` keys: not objects.
  return (r.Contents ?? [])
    .map((o) => o.Key!)
    .filter((k) => !k.endsWith('/'))
    .sort();
}
/** The before-images stored for a saga. */
const blobsOf = (sagaId: string) => keys(`${BEFORE_IMAGE_PREFIX}${sagaId}/`);
const beforeOf = (result: unknown) => (result as { before: BeforeImage }).before;

beforeAll(() => {
  const cfg = loadConfig();
  bucket = cfg.s3.bucket;
  s3 = createS3Client(cfg.s3);
  pool = createPgPool(cfg.postgres);
  idempotency = new PgIdempotencyStore(pool);
  // Objects over 6 MiB are copied part by part (5 MiB parts), so the tests exercise UploadPartCopy.
  const adapter = new S3Adapter(s3, {
    bucket,
    idempotency,
    multipartCopyThreshold: 6 * 1024 * 1024,
    copyPartSize: 5 * 1024 * 1024,
  });
  acts = createStepActivities({ catalog: builtinCatalog, backends: [createS3Backend(adapter)] });
});
afterAll(async () => {
  const left = [
    ...(await keys().catch(() => [])),
    ...(await Promise.all(sagas.map((id) => blobsOf(id).catch(() => [])))).flat(),
  ];
  for (const k of left) await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
  s3?.destroy();
  await pool?.end();
});

describe('s3 backend (real S3 server)', () => {
  it('put_object of a new key: one write for two runs; s3_restore_object deletes it, twice', async () => {
    const key = `${prefix}new.md`;
    const step = stepInput('s3', 'put_object', { key, body: '# hello', contentType: 'text/markdown' });
    const r1 = await acts.executeStep(step);
    await write(key, 'someone else');
    // The retry returns the recorded result and does not overwrite the later write.
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await read(key)).toBe('someone else');
    await write(key, '# hello');
    expect(await keys()).toEqual([key]);
    expect(r1.result).toMatchObject({ bucket, key, before: { absent: true, blob: null } });
    expect(await blobsOf(step.sagaId)).toEqual([]);

    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBeNull();
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('put_object over an existing object: before-image copied out of band, restored, then deleted; twice', async () => {
    const key = `${prefix}over.bin`;
    await write(key, 'old bytes');
    const step = stepInput('s3', 'put_object', {
      key,
      body: Buffer.from('new bytes').toString('base64'),
      encoding: 'base64',
    });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await read(key)).toBe('new bytes');
    const before = beforeOf(r1.result);
    // Only a reference travels in the result; the old bytes are in polysaga's before-image area.
    expect(before).toMatchObject({ absent: false, size: 9, contentType: 'text/plain' });
    expect(JSON.stringify(r1.result)).not.toContain(Buffer.from('old bytes').toString('base64'));
    expect(before.blob!.key.startsWith(`${BEFORE_IMAGE_PREFIX}${step.sagaId}/step/`)).toBe(true);
    expect(await blobsOf(step.sagaId)).toEqual([before.blob!.key]);
    expect(await read(before.blob!.key)).toBe('old bytes');

    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBe('old bytes');
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentType).toBe('text/plain');
    expect(await blobsOf(step.sagaId)).toEqual([]); // deleted once the data is back
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
    expect(await read(key)).toBe('old bytes');
  });

  it('s3_delete_object deletes what we put, twice; refuses a changed object', async () => {
    const key = `${prefix}del.txt`;
    const step = stepInput('s3', 'put_object', { key, body: 'mine' });
    const r = await acts.executeStep(step);
    const comp = compensationInput(step, r.result, 's3_delete_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBeNull();
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });

    const again = stepInput('s3', 'put_object', { key, body: 'mine again' });
    const r2 = await acts.executeStep(again);
    await write(key, 'theirs');
    await expectFailure(
      acts.compensateStep(compensationInput(again, r2.result, 's3_delete_object')),
      FailureTypes.Conflict,
    );
    await expectFailure(
      acts.compensateStep(compensationInput(again, r2.result, 's3_restore_object')),
      FailureTypes.Conflict,
    );
    expect(await read(key)).toBe('theirs');
  });

  it('delete_object: before-image captured once; s3_restore_object puts it back, twice', async () => {
    const key = `${prefix}gone.txt`;
    await write(key, 'keep me');
    const step = stepInput('s3', 'delete_object', { key });
    const r1 = await acts.executeStep(step);
    await write(key, 'recreated');
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await read(key)).toBe('recreated');
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));

    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBe('keep me');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('copy_object: one copy for two runs; s3_restore_object removes the copy, twice', async () => {
    const src = `${prefix}src.txt`;
    const dst = `${prefix}dir/dst.txt`;
    await write(src, 'copied content');
    const step = stepInput('s3', 'copy_object', { key: dst, sourceKey: src });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(await read(dst)).toBe('copied content');
    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(dst)).toBeNull();
    expect(await read(src)).toBe('copied content');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('copy_object over an existing target: the old target is restored, twice', async () => {
    const src = `${prefix}src2.txt`;
    const dst = `${prefix}dst2.txt`;
    await write(src, 'new content');
    await write(dst, 'old target');
    const step = stepInput('s3', 'copy_object', { key: dst, sourceKey: src });
    const r = await acts.executeStep(step);
    expect(await read(dst)).toBe('new content');
    const comp = compensationInput(step, r.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(dst)).toBe('old target');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('two concurrent runs with one idempotency key: one before-image, equal results', async () => {
    const key = `${prefix}race.txt`;
    await write(key, 'before the race');
    const step = stepInput('s3', 'put_object', { key, body: 'raced' });
    // The other run's write may land between a capture's HEAD and its copy: the copy is
    // conditional on the ETag, so that capture fails with a transient error, and Temporal retries.
    const attempt = () =>
      acts.executeStep(step).catch((err: unknown) => {
        expect(String(err)).toContain('the object changed during the copy');
        expect(err).not.toBeInstanceOf(ApplicationFailure);
        return acts.executeStep(step);
      });
    const [a, b] = await Promise.all([attempt(), attempt()]);
    expect(a).toEqual(b);
    // The loser of the write-ahead race dropped its own copy; only the recorded one is left.
    expect(await blobsOf(step.sagaId)).toEqual([beforeOf(a.result).blob!.key]);
    expect(await read(beforeOf(a.result).blob!.key)).toBe('before the race');
    expect(await acts.compensateStep(compensationInput(step, a.result, 's3_restore_object'))).toEqual({
      outcome: 'undone',
    });
    expect(await read(key)).toBe('before the race');
  });

  it('s3_delete_object after an overwrite deletes the object and its before-image', async () => {
    const key = `${prefix}overdel.txt`;
    await write(key, 'old');
    const step = stepInput('s3', 'put_object', { key, body: 'new' });
    const r = await acts.executeStep(step);
    expect(await blobsOf(step.sagaId)).toHaveLength(1);
    const comp = compensationInput(step, r.result, 's3_delete_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBeNull();
    expect(await blobsOf(step.sagaId)).toEqual([]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('a 12 MiB old object (multipart copy both ways) comes back with the same SHA-256; twice', async () => {
    const key = `${prefix}big.bin`;
    const old = randomBytes(12 * 1024 * 1024);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: old }));
    const step = stepInput('s3', 'put_object', { key, body: 'small' });
    const r = await acts.executeStep(step);
    const before = beforeOf(r.result);
    expect(before).toMatchObject({ absent: false, size: old.length });
    expect(before.blob!.etag).toMatch(/-3$/); // three UploadPartCopy parts
    expect(JSON.stringify(r.result).length).toBeLessThan(1024);
    expect(await read(key)).toBe('small');

    const comp = compensationInput(step, r.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(sha256(await readBytes(key))).toBe(sha256(old));
    expect(await blobsOf(step.sagaId)).toEqual([]);
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('put_object from source (server-side copy, content type replaced): restore brings the old object back', async () => {
    const src = `${prefix}upload.bin`;
    const key = `${prefix}target.bin`;
    const body = randomBytes(7 * 1024 * 1024); // above the multipart threshold of these tests
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: src, Body: body }));
    await write(key, 'previous');
    const step = stepInput('s3', 'put_object', {
      key,
      source: { key: src },
      contentType: 'application/octet-stream',
    });
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(sha256(await readBytes(key))).toBe(sha256(body));
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentType).toBe('application/octet-stream');
    expect(beforeOf(r1.result)).toMatchObject({ absent: false, size: 8 });

    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBe('previous');
    expect(sha256(await readBytes(src))).toBe(sha256(body)); // the source is left alone
  });

  it('put_object from a missing source → NotFound before anything is captured or written', async () => {
    const key = `${prefix}nosrc.txt`;
    await write(key, 'stays');
    const step = stepInput('s3', 'put_object', { key, source: { key: `${prefix}missing` } });
    await expectFailure(acts.executeStep(step), FailureTypes.NotFound);
    expect(await read(key)).toBe('stays');
    expect(await blobsOf(step.sagaId)).toEqual([]);
  });

  it('capture failure: the step fails before its write (object and idempotency record untouched)', async () => {
    const key = `${prefix}guarded.txt`;
    await write(key, 'original');
    // Before-images go to a bucket that does not exist: the server-side copy fails.
    const broken = new S3Adapter(s3, { bucket: uniq('nobucket').replace(/_/g, '-'), idempotency });
    const brokenActs = createStepActivities({
      catalog: builtinCatalog,
      backends: [createS3Backend(broken)],
    });
    const payloads: JsonObject[] = [
      { bucket, key, body: 'overwrite' },
      { bucket, key, source: { bucket, key: `${prefix}src.txt` } },
    ];
    for (const payload of payloads) {
      await write(`${prefix}src.txt`, 'source bytes');
      const step = stepInput('s3', 'put_object', payload);
      const f = await expectFailure(brokenActs.executeStep(step), FailureTypes.NotFound);
      expect(f.message).toContain('before-image capture failed');
      expect(await read(key)).toBe('original');
      const row = await pool.query('SELECT 1 FROM polysaga_idempotency WHERE key = $1', [
        step.idempotencyKey,
      ]);
      expect(row.rowCount).toBe(0);
    }
    const del = stepInput('s3', 'delete_object', { bucket, key });
    await expectFailure(brokenActs.executeStep(del), FailureTypes.NotFound);
    expect(await read(key)).toBe('original');
  });

  it('a missing before-image at restore → Permanent, the object is left as the step wrote it', async () => {
    const key = `${prefix}lost.txt`;
    await write(key, 'old');
    const step = stepInput('s3', 'put_object', { key, body: 'new' });
    const r = await acts.executeStep(step);
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: beforeOf(r.result).blob!.key }));
    const f = await expectFailure(
      acts.compensateStep(compensationInput(step, r.result, 's3_restore_object')),
      FailureTypes.Permanent,
    );
    expect(f.message).toContain('is missing');
    expect(await read(key)).toBe('new');
  });

  it('results of the previous version (inline base64 before-image) still restore', async () => {
    const key = `${prefix}legacy.txt`;
    await write(key, 'now');
    const etag = (await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).ETag!.replace(/"/g, '');
    const result = {
      bucket,
      key,
      operation: 'put_object',
      before: {
        exists: true,
        etag: 'x',
        body: Buffer.from('then').toString('base64'),
        contentType: 'text/plain',
        size: 4,
        tooLarge: false,
      },
      afterEtag: etag,
    };
    const step = stepInput('s3', 'put_object', { key, body: 'now' });
    const comp = compensationInput(step, result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBe('then');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('payload checks: body and source together, none of them, bodyFile at the worker → InvalidPayload naming the field', async () => {
    const both = await expectFailure(
      acts.executeStep(stepInput('s3', 'put_object', { key: `${prefix}x`, body: 'b', source: { key: 'k' } })),
      FailureTypes.InvalidPayload,
    );
    expect(both.message).toContain('source: give only one of body, source or bodyFile');
    const none = await expectFailure(
      acts.executeStep(stepInput('s3', 'put_object', { key: `${prefix}x` })),
      FailureTypes.InvalidPayload,
    );
    expect(none.message).toContain('body: one of body, source or bodyFile is required');
    const file = await expectFailure(
      acts.executeStep(stepInput('s3', 'put_object', { key: `${prefix}x`, bodyFile: '/tmp/f' })),
      FailureTypes.InvalidPayload,
    );
    expect(file.message).toContain('payload.bodyFile');
    expect(await read(`${prefix}x`)).toBeNull();
  });

  it('error mapping: missing copy source → NotFound; missing bucket → NotFound; bad payload → InvalidPayload', async () => {
    await expectFailure(
      acts.executeStep(stepInput('s3', 'copy_object', { key: `${prefix}x`, sourceKey: `${prefix}nope` })),
      FailureTypes.NotFound,
    );
    await expectFailure(
      acts.executeStep(
        stepInput('s3', 'put_object', { bucket: uniq('nobucket').replace(/_/g, '-'), key: 'k', body: 'b' }),
      ),
      FailureTypes.NotFound,
    );
    await expectFailure(
      acts.executeStep(stepInput('s3', 'put_object', { key: '', body: 'b' })),
      FailureTypes.InvalidPayload,
    );
  });
});
