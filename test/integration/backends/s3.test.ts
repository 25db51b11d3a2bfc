/**
 * s3 backend against the real S3 server of the stack (S3Proxy, path-style): put, delete, copy,
 * their compensations run twice, the double-run idempotency check, conflicts, error mapping.
 */
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/config/index.js';
import { createS3Client, S3Adapter } from '../../../src/adapters/s3.js';
import { createPgPool, PgIdempotencyStore, type PgPool } from '../../../src/adapters/postgres.js';
import { createS3Backend } from '../../../src/activities/backends/s3.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/saga/catalog/index.js';
import { FailureTypes } from '../../../src/saga/contracts.js';
import { compensationInput, expectFailure, stepInput, uniq } from './helpers.js';

let s3: S3Client;
let pool: PgPool;
let bucket: string;
let acts: ReturnType<typeof createStepActivities>;
const prefix = `${uniq('bk')}/`;

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
async function keys(): Promise<string[]> {
  const r = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix }));
  return (r.Contents ?? []).map((o) => o.Key!).sort();
}

beforeAll(() => {
  const cfg = loadConfig();
  bucket = cfg.s3.bucket;
  s3 = createS3Client(cfg.s3);
  pool = createPgPool(cfg.postgres);
  const adapter = new S3Adapter(s3, {
    bucket,
    idempotency: new PgIdempotencyStore(pool),
    maxBeforeImageBytes: 1024,
  });
  acts = createStepActivities({ catalog: builtinCatalog, backends: [createS3Backend(adapter)] });
});
afterAll(async () => {
  for (const k of (await keys().catch(() => [])) ?? [])
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: k }));
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
    expect(r1.result).toMatchObject({ bucket, key, before: { exists: false } });

    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBeNull();
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
  });

  it('put_object over an existing object: old bytes restored (base64 before-image), twice', async () => {
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
    expect(r1.result).toMatchObject({
      before: { exists: true, body: Buffer.from('old bytes').toString('base64'), contentType: 'text/plain' },
    });

    const comp = compensationInput(step, r1.result, 's3_restore_object');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'undone' });
    expect(await read(key)).toBe('old bytes');
    expect(await acts.compensateStep(comp)).toEqual({ outcome: 'absent' });
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

  it('an old object larger than the before-image limit cannot be restored (permanent)', async () => {
    const key = `${prefix}big.txt`;
    await write(key, 'x'.repeat(2048));
    const step = stepInput('s3', 'put_object', { key, body: 'small' });
    const r = await acts.executeStep(step);
    expect(r.result).toMatchObject({ before: { exists: true, tooLarge: true, body: null } });
    await expectFailure(
      acts.compensateStep(compensationInput(step, r.result, 's3_restore_object')),
      FailureTypes.Permanent,
    );
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
