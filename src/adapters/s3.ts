/**
 * S3 adapter (@aws-sdk/client-s3): put, delete and copy with before-images, for AWS and for
 * S3-compatible servers with path-style endpoints (the local stack's S3Proxy).
 *
 * Before-image: the old object's bytes (base64), content type and ETag, for objects up to
 * `maxBeforeImageBytes` (default 5 MiB; larger objects keep only their ETag and cannot be
 * restored). Idempotency: write-ahead through a {@link WriteAheadStore}; the effects themselves
 * (put by key, delete, copy) are naturally idempotent.
 */
import { createHash } from 'node:crypto';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import type { Config } from '../config/index.js';
import type { JsonObject } from '../saga/contracts.js';
import { FailureTypes } from '../saga/contracts.js';
import { ConflictError, PermanentError } from '../activities/errors.js';
import type { WriteAheadStore } from '../activities/backends/types.js';

/** Creates a client from the `s3` section of the configuration. */
export function createS3Client(cfg: Config['s3']): S3Client {
  return new S3Client({
    region: cfg.region,
    forcePathStyle: cfg.forcePathStyle,
    ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
    ...(cfg.accessKeyId && cfg.secretAccessKey
      ? { credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey } }
      : {}),
    maxAttempts: 1, // Temporal retries the activity
    // S3-compatible servers (S3Proxy, versitygw) reject the SDK's default flexible-checksum headers.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/** The state of one object: absent, or its ETag (and bytes if small enough). */
export interface ObjectImage extends JsonObject {
  exists: boolean;
  etag: string | null;
  /** base64 of the bytes; null when absent or larger than the before-image limit. */
  body: string | null;
  contentType: string | null;
  size: number | null;
  tooLarge: boolean;
}

export interface ObjectChange extends JsonObject {
  bucket: string;
  key: string;
  operation: string;
  before: ObjectImage;
  /** ETag of what the step left (null: the step deleted the object). */
  afterEtag: string | null;
}

const ABSENT: ObjectImage = {
  exists: false,
  etag: null,
  body: null,
  contentType: null,
  size: null,
  tooLarge: false,
};
const unquote = (etag: string | undefined): string | null => (etag ? etag.replace(/"/g, '') : null);
const md5 = (b64: string): string => createHash('md5').update(Buffer.from(b64, 'base64')).digest('hex');

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NotFound' || e?.name === 'NoSuchKey' || e?.$metadata?.httpStatusCode === 404;
}

export class S3Adapter {
  readonly maxBeforeImageBytes: number;
  constructor(
    readonly client: S3Client,
    private readonly opts: { bucket: string; idempotency: WriteAheadStore; maxBeforeImageBytes?: number },
  ) {
    this.maxBeforeImageBytes = opts.maxBeforeImageBytes ?? 5 * 1024 * 1024;
  }

  bucketOf(bucket?: string): string {
    return bucket ?? this.opts.bucket;
  }

  /** HEAD + GET of the current object (the before-image); absent → exists false. */
  async image(bucket: string, key: string, withBody = true): Promise<ObjectImage> {
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      const size = head.ContentLength ?? 0;
      const base = { exists: true, etag: unquote(head.ETag), contentType: head.ContentType ?? null, size };
      if (!withBody) return { ...base, body: null, tooLarge: false };
      if (size > this.maxBeforeImageBytes) return { ...base, body: null, tooLarge: true };
      const got = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const bytes = (await got.Body?.transformToByteArray()) ?? new Uint8Array();
      return { ...base, body: Buffer.from(bytes).toString('base64'), tooLarge: false };
    } catch (err) {
      if (isNotFound(err)) return ABSENT;
      throw err;
    }
  }

  private run(
    idemKey: string,
    operation: string,
    bucket: string,
    key: string,
    effect: () => Promise<string | null>,
  ): Promise<JsonObject> {
    return this.opts.idempotency.runOnce(
      idemKey,
      's3',
      operation,
      () => this.image(bucket, key),
      async (before) => {
        const afterEtag = await effect();
        const change: ObjectChange = { bucket, key, operation, before: before as ObjectImage, afterEtag };
        return change;
      },
    );
  }

  /** PUT an object. Compensation: s3_restore_object (or s3_delete_object). */
  put(
    idemKey: string,
    p: {
      bucket?: string | undefined;
      key: string;
      body: string;
      encoding: 'utf8' | 'base64';
      contentType?: string | undefined;
    },
  ) {
    const bucket = this.bucketOf(p.bucket);
    return this.run(idemKey, 'put_object', bucket, p.key, async () => {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: p.key,
          Body: Buffer.from(p.body, p.encoding),
          ...(p.contentType ? { ContentType: p.contentType } : {}),
        }),
      );
      return unquote(out.ETag);
    });
  }

  /** DELETE an object (absent: nothing to do). Compensation: s3_restore_object. */
  delete(idemKey: string, p: { bucket?: string | undefined; key: string }) {
    const bucket = this.bucketOf(p.bucket);
    return this.run(idemKey, 'delete_object', bucket, p.key, async () => {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: p.key }));
      return null;
    });
  }

  /** COPY sourceKey → key. Compensation: s3_restore_object. */
  copy(
    idemKey: string,
    p: { bucket?: string | undefined; key: string; sourceBucket?: string | undefined; sourceKey: string },
  ) {
    const bucket = this.bucketOf(p.bucket);
    const source = this.bucketOf(p.sourceBucket ?? p.bucket);
    return this.run(idemKey, 'copy_object', bucket, p.key, async () => {
      try {
        const out = await this.client.send(
          new CopyObjectCommand({
            Bucket: bucket,
            Key: p.key,
            CopySource: `${source}/${encodeURIComponent(p.sourceKey).replace(/%2F/g, '/')}`,
          }),
        );
        return unquote(out.CopyObjectResult?.ETag);
      } catch (err) {
        if (isNotFound(err))
          throw new PermanentError(`no source object ${source}/${p.sourceKey}`, FailureTypes.NotFound, {
            cause: err,
          });
        throw err;
      }
    });
  }

  /**
   * Puts the before-image back (old bytes), or deletes an object that did not exist before,
   * if the object is still what the step left. Already as before → `absent`; changed → conflict.
   */
  async restore(change: ObjectChange): Promise<'undone' | 'absent'> {
    const { bucket, key, before } = change;
    const cur = await this.image(bucket, key, false);
    const isAfter = change.afterEtag === null ? !cur.exists : cur.exists && cur.etag === change.afterEtag;
    const isBefore = before.exists
      ? cur.exists && (cur.etag === before.etag || (before.body !== null && cur.etag === md5(before.body)))
      : !cur.exists;
    if (isBefore) return 'absent';
    if (!isAfter)
      throw new ConflictError(`s3://${bucket}/${key} changed since the step wrote it; not overwriting`);
    if (!before.exists) {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return 'undone';
    }
    if (before.body === null) {
      throw new PermanentError(
        `s3://${bucket}/${key}: the old object (${before.size} bytes) was larger than the before-image limit and cannot be restored`,
        FailureTypes.Permanent,
      );
    }
    await this.client.send(
      new PutObjectCommand({
        Bucket: bucket,
        Key: key,
        Body: Buffer.from(before.body, 'base64'),
        ...(before.contentType ? { ContentType: before.contentType } : {}),
      }),
    );
    return 'undone';
  }

  /** Deletes the object the step wrote if it is unchanged; gone → `absent`. */
  async deleteWritten(change: ObjectChange): Promise<'undone' | 'absent'> {
    const cur = await this.image(change.bucket, change.key, false);
    if (!cur.exists) return 'absent';
    if (change.afterEtag === null || cur.etag !== change.afterEtag) {
      throw new ConflictError(
        `s3://${change.bucket}/${change.key} changed since the step wrote it; not deleting`,
      );
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: change.bucket, Key: change.key }));
    return 'undone';
  }
}
