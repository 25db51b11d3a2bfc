/**
 * S3 adapter (@aws-sdk/client-s3): put, delete and copy with before-images, for AWS and for
 * S3-compatible servers with path-style endpoints (the local stack's S3Proxy).
 *
 * Big data never passes through the worker or Temporal history:
 * - **Before-images** are captured out of band, before the write, by a server-side copy of the
 *   old object into `polysaga/before-images/<sagaId>/<stepId>/<hash>-<nonce>` of the configured
 *   bucket (CopyObject; objects above `multipartCopyThreshold`, 5 GiB by default, part by part
 *   with UploadPartCopy). The step result carries only a reference ({@link BeforeImage}). If the
 *   capture fails, the step fails before its write.
 * - **Restore** copies the before-image back server-side (or deletes an object that did not
 *   exist), checks the restored object's size and ETag, and only then deletes the before-image
 *   and reports `undone`.
 * - **put_object** takes its body inline (small) or from `source`, an object already in S3
 *   (server-side copy), e.g. one the client uploaded from a local file (`src/client/body-files.ts`).
 *
 * Idempotency: write-ahead through a {@link WriteAheadStore}; the effects themselves (put by
 * key, delete, copy) are naturally idempotent.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCopyCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import type { Config } from '../../config/index.js';
import type { JsonObject } from '../../saga/contracts.js';
import { FailureTypes } from '../../saga/contracts.js';
import { ConflictError, PermanentError } from '../errors.js';
import type { WriteAheadStore } from '../types.js';

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

/**
 * Uploads a local file to `bucket/key` by streaming it (@aws-sdk/lib-storage `Upload`: multipart
 * in `partSize` parts, 4 in flight, so at most about 4 parts are in memory at once; a file
 * smaller than one part is one PUT). Returns the object's ETag and size.
 */
export async function uploadFile(
  client: S3Client,
  target: { bucket: string; key: string; contentType?: string | undefined },
  path: string,
  options: { partSize?: number } = {},
): Promise<{ etag: string | null; size: number }> {
  // Loaded on use: only clients that upload a bodyFile need @aws-sdk/lib-storage, workers never do.
  const { Upload } = await import('@aws-sdk/lib-storage');
  const stream = createReadStream(path);
  let size = 0;
  stream.on('data', (chunk) => (size += chunk.length));
  const upload = new Upload({
    client,
    params: {
      Bucket: target.bucket,
      Key: target.key,
      Body: stream,
      ...(target.contentType ? { ContentType: target.contentType } : {}),
    },
    partSize: options.partSize ?? 8 * 1024 * 1024,
    queueSize: 4,
    leavePartsOnError: false,
  });
  const out = await upload.done();
  return { etag: unquote(out.ETag), size };
}

/** Deletes one object (absent: nothing to do). */
export async function removeObject(client: S3Client, bucket: string, key: string): Promise<void> {
  await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
}

/** Key prefix (in the configured bucket) of the before-images polysaga keeps. */
export const BEFORE_IMAGE_PREFIX = 'polysaga/before-images/';
/** Key prefix (in the configured bucket) of the files a client uploads before a saga starts. */
export const UPLOAD_PREFIX = 'polysaga/uploads/';
/** CopyObject copies at most 5 GiB; larger objects are copied part by part. */
export const MAX_SINGLE_COPY_BYTES = 5 * 1024 ** 3;
const MAX_PARTS = 10_000;

/**
 * Key of a before-image: `polysaga/before-images/<sagaId>/<stepId>/<sha256(idempotency key)[0..16]>-<nonce>`.
 * The nonce makes every capture attempt its own object, so a concurrent attempt can never
 * overwrite the before-image another attempt recorded.
 */
export function beforeImageKey(
  sagaId: string,
  stepId: string,
  idempotencyKey: string,
  nonce: string,
): string {
  const hash = createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 16);
  return `${BEFORE_IMAGE_PREFIX}${sagaId}/${stepId}/${hash}-${nonce}`;
}

/** An object polysaga stored out of band (a before-image). */
export interface BlobRef extends JsonObject {
  bucket: string;
  key: string;
  /** ETag of the stored copy (checked before it is copied back). */
  etag: string;
  size: number;
}

/**
 * The before-image reference a step result carries: `absent: true` when there was no object,
 * otherwise the old object's ETag, size and content type and where its copy is (`blob`).
 */
export interface BeforeImage extends JsonObject {
  absent: boolean;
  etag: string | null;
  size: number | null;
  contentType: string | null;
  blob: BlobRef | null;
}

/** Before-image of results written by polysaga before 0.2 (bytes inline, base64, up to 5 MiB). */
export interface LegacyObjectImage extends JsonObject {
  exists: boolean;
  etag: string | null;
  body: string | null;
  contentType: string | null;
  size: number | null;
  tooLarge: boolean;
}

/** The result of every s3 operation: what a compensation needs. */
export interface ObjectChange extends JsonObject {
  bucket: string;
  key: string;
  operation: string;
  before: BeforeImage | LegacyObjectImage;
  /** ETag of what the step left (null: the step deleted the object). */
  afterEtag: string | null;
}

/** Where an operation runs: names the before-image. */
export interface S3StepContext {
  sagaId: string;
  stepId: string;
  idempotencyKey: string;
}

/** Options of {@link S3Adapter}. */
export interface S3AdapterOptions {
  /** The configured bucket: default bucket of steps, and home of `polysaga/…` objects. */
  bucket: string;
  idempotency: WriteAheadStore;
  /** Objects larger than this are copied with UploadPartCopy (default and maximum 5 GiB). */
  multipartCopyThreshold?: number;
  /** Part size of a multipart copy (default 512 MiB; grown to stay within 10 000 parts). */
  copyPartSize?: number;
}

interface Head {
  etag: string | null;
  size: number;
  contentType: string | null;
  metadata: Record<string, string>;
}

const ABSENT: BeforeImage = { absent: true, etag: null, size: null, contentType: null, blob: null };
const unquote = (etag: string | undefined): string | null => (etag ? etag.replace(/"/g, '') : null);
const md5 = (b64: string): string => createHash('md5').update(Buffer.from(b64, 'base64')).digest('hex');
const url = (bucket: string, key: string) => `s3://${bucket}/${key}`;
const copySource = (bucket: string, key: string) =>
  `${bucket}/${encodeURIComponent(key).replace(/%2F/g, '/')}`;

function status(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function isNotFound(err: unknown): boolean {
  const name = (err as { name?: string })?.name;
  return name === 'NotFound' || name === 'NoSuchKey' || status(err) === 404;
}

/** Prefixes an error's message, keeping the error (and so its classification) as it is. */
function withContext(err: unknown, context: string): unknown {
  if (err instanceof Error) err.message = `${context}: ${err.message}`;
  return err;
}

function isLegacy(before: ObjectChange['before']): before is LegacyObjectImage {
  return typeof (before as { exists?: unknown }).exists === 'boolean';
}

export class S3Adapter {
  readonly multipartCopyThreshold: number;
  readonly copyPartSize: number;
  constructor(
    readonly client: S3Client,
    private readonly opts: S3AdapterOptions,
  ) {
    this.multipartCopyThreshold = Math.min(
      opts.multipartCopyThreshold ?? MAX_SINGLE_COPY_BYTES,
      MAX_SINGLE_COPY_BYTES,
    );
    this.copyPartSize = opts.copyPartSize ?? 512 * 1024 ** 2;
  }

  /** The bucket of a step (`bucket` of the payload, else the configured one). */
  bucketOf(bucket?: string): string {
    return bucket ?? this.opts.bucket;
  }

  /** HEAD of an object; null when absent. */
  async head(bucket: string, key: string): Promise<Head | null> {
    try {
      const h = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        etag: unquote(h.ETag),
        size: h.ContentLength ?? 0,
        contentType: h.ContentType ?? null,
        metadata: h.Metadata ?? {},
      };
    } catch (err) {
      if (isNotFound(err)) return null;
      throw err;
    }
  }

  /**
   * Server-side copy of `src` (whose HEAD is `srcHead`) to `dst`; returns the new ETag.
   * Up to {@link multipartCopyThreshold}: one CopyObject; above: a multipart upload of
   * UploadPartCopy ranges (content type and metadata carried over). `ifMatch` makes the copy
   * fail with 412 if the source changed meanwhile. Nothing passes through this process.
   */
  async copyObject(
    src: { bucket: string; key: string },
    srcHead: Head,
    dst: { bucket: string; key: string },
    opts: { ifMatch?: string | null; contentType?: string | undefined } = {},
  ): Promise<string | null> {
    const ifMatch = opts.ifMatch ? { CopySourceIfMatch: `"${opts.ifMatch}"` } : {};
    const source = copySource(src.bucket, src.key);
    if (srcHead.size <= this.multipartCopyThreshold) {
      const out = await this.client.send(
        new CopyObjectCommand({
          Bucket: dst.bucket,
          Key: dst.key,
          CopySource: source,
          ...ifMatch,
          ...(opts.contentType
            ? { MetadataDirective: 'REPLACE', ContentType: opts.contentType, Metadata: srcHead.metadata }
            : {}),
        }),
      );
      return unquote(out.CopyObjectResult?.ETag);
    }
    const contentType = opts.contentType ?? srcHead.contentType;
    const mp = await this.client.send(
      new CreateMultipartUploadCommand({
        Bucket: dst.bucket,
        Key: dst.key,
        Metadata: srcHead.metadata,
        ...(contentType ? { ContentType: contentType } : {}),
      }),
    );
    const uploadId = mp.UploadId!;
    try {
      const partSize = Math.max(this.copyPartSize, Math.ceil(srcHead.size / MAX_PARTS));
      const count = Math.ceil(srcHead.size / partSize);
      const parts: CompletedPart[] = new Array<CompletedPart>(count);
      let next = 0;
      const worker = async () => {
        for (let i = next++; i < count; i = next++) {
          const start = i * partSize;
          const end = Math.min(start + partSize, srcHead.size) - 1;
          const r = await this.client.send(
            new UploadPartCopyCommand({
              Bucket: dst.bucket,
              Key: dst.key,
              UploadId: uploadId,
              PartNumber: i + 1,
              CopySource: source,
              CopySourceRange: `bytes=${start}-${end}`,
              ...ifMatch,
            }),
          );
          parts[i] = { PartNumber: i + 1, ETag: r.CopyPartResult?.ETag };
        }
      };
      await Promise.all(Array.from({ length: Math.min(4, count) }, worker));
      const done = await this.client.send(
        new CompleteMultipartUploadCommand({
          Bucket: dst.bucket,
          Key: dst.key,
          UploadId: uploadId,
          MultipartUpload: { Parts: parts },
        }),
      );
      return unquote(done.ETag);
    } catch (err) {
      await this.client
        .send(new AbortMultipartUploadCommand({ Bucket: dst.bucket, Key: dst.key, UploadId: uploadId }))
        .catch(() => undefined);
      throw err;
    }
  }

  /**
   * Captures the before-image of `bucket/key`: HEAD, then a server-side copy into
   * `polysaga/before-images/…` (conditional on the HEAD's ETag), checked by size.
   * Every failure is thrown, so the step fails before its write.
   */
  async captureBeforeImage(ctx: S3StepContext, bucket: string, key: string): Promise<BeforeImage> {
    const what = `${url(bucket, key)}: before-image capture failed`;
    try {
      const head = await this.head(bucket, key);
      if (!head) return ABSENT;
      const blobKey = beforeImageKey(ctx.sagaId, ctx.stepId, ctx.idempotencyKey, randomUUID().slice(0, 8));
      const dst = { bucket: this.opts.bucket, key: blobKey };
      try {
        await this.copyObject({ bucket, key }, head, dst, { ifMatch: head.etag });
      } catch (err) {
        // The object changed between HEAD and copy: a transient error, the step retries.
        if (status(err) === 412) throw new Error('the object changed during the copy', { cause: err });
        throw err;
      }
      const stored = await this.head(dst.bucket, dst.key);
      if (!stored || stored.size !== head.size || stored.etag === null) {
        throw new Error(
          `the copy ${url(dst.bucket, dst.key)} has ${stored?.size ?? 'no'} bytes, expected ${head.size}`,
        );
      }
      return {
        absent: false,
        etag: head.etag,
        size: head.size,
        contentType: head.contentType,
        blob: { bucket: dst.bucket, key: dst.key, etag: stored.etag, size: stored.size },
      };
    } catch (err) {
      throw withContext(err, what);
    }
  }

  /** Deletes the stored before-image of `before` (if any); an already deleted one is fine. */
  async dropBeforeImage(before: ObjectChange['before']): Promise<void> {
    if (isLegacy(before) || !before.blob) return;
    await this.client.send(new DeleteObjectCommand({ Bucket: before.blob.bucket, Key: before.blob.key }));
  }

  private async run(
    ctx: S3StepContext,
    operation: string,
    bucket: string,
    key: string,
    /** Preconditions checked before the capture (e.g. the copy source exists); null: none. */
    check: (() => Promise<void>) | null,
    effect: () => Promise<string | null>,
  ): Promise<JsonObject> {
    let fresh: BeforeImage | undefined;
    // Blob key of the before-image the idempotency record references (null: none); unknown until seen.
    let recorded: string | null | undefined;
    const seen = (before: unknown) => {
      if (typeof before === 'object' && before !== null)
        recorded = isLegacy(before as ObjectChange['before'])
          ? null
          : ((before as BeforeImage).blob?.key ?? null);
    };
    try {
      const result = await this.opts.idempotency.runOnce(
        ctx.idempotencyKey,
        's3',
        operation,
        async () => {
          if (check) await check();
          fresh = await this.captureBeforeImage(ctx, bucket, key);
          return fresh;
        },
        async (prepared) => {
          const before = prepared as ObjectChange['before'];
          seen(before);
          const afterEtag = await effect();
          const change: ObjectChange = { bucket, key, operation, before, afterEtag };
          return change;
        },
      );
      if (recorded === undefined) seen(result.before); // another run had finished already
      return result;
    } finally {
      // A concurrent run recorded its before-image first: ours is referenced by nothing, drop it.
      if (fresh?.blob && recorded !== undefined && recorded !== fresh.blob.key)
        await this.dropBeforeImage(fresh).catch(() => undefined);
    }
  }

  private async sourceHead(bucket: string, key: string): Promise<Head> {
    const head = await this.head(bucket, key);
    if (!head) throw new PermanentError(`no source object ${url(bucket, key)}`, FailureTypes.NotFound);
    return head;
  }

  /**
   * PUT an object from `body` (inline, small) or `source` (server-side copy of an object already
   * in S3). Compensation: s3_restore_object (or s3_delete_object).
   */
  put(
    ctx: S3StepContext,
    p: {
      bucket?: string | undefined;
      key: string;
      body?: string | undefined;
      source?: { bucket?: string | undefined; key: string } | undefined;
      bodyFile?: string | undefined;
      encoding: 'utf8' | 'base64';
      contentType?: string | undefined;
    },
  ) {
    if (p.bodyFile !== undefined)
      throw new PermanentError(
        'payload.bodyFile: a local file is uploaded by the client (SagaClient, polysaga start) before the saga starts; the worker takes only body or source',
        FailureTypes.InvalidPayload,
      );
    const bucket = this.bucketOf(p.bucket);
    const source = p.source;
    if (source) {
      const srcBucket = this.bucketOf(source.bucket ?? p.bucket);
      return this.run(
        ctx,
        'put_object',
        bucket,
        p.key,
        async () => void (await this.sourceHead(srcBucket, source.key)),
        async () => {
          const head = await this.sourceHead(srcBucket, source.key);
          return this.copyObject(
            { bucket: srcBucket, key: source.key },
            head,
            { bucket, key: p.key },
            {
              contentType: p.contentType,
            },
          );
        },
      );
    }
    if (p.body === undefined)
      throw new PermanentError('payload: one of body or source is required', FailureTypes.InvalidPayload);
    const body = p.body;
    return this.run(ctx, 'put_object', bucket, p.key, null, async () => {
      const out = await this.client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: p.key,
          Body: Buffer.from(body, p.encoding),
          ...(p.contentType ? { ContentType: p.contentType } : {}),
        }),
      );
      return unquote(out.ETag);
    });
  }

  /** DELETE an object (absent: nothing to do). Compensation: s3_restore_object. */
  delete(ctx: S3StepContext, p: { bucket?: string | undefined; key: string }) {
    const bucket = this.bucketOf(p.bucket);
    return this.run(ctx, 'delete_object', bucket, p.key, null, async () => {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: p.key }));
      return null;
    });
  }

  /** COPY sourceKey → key (server-side). Compensation: s3_restore_object. */
  copy(
    ctx: S3StepContext,
    p: { bucket?: string | undefined; key: string; sourceBucket?: string | undefined; sourceKey: string },
  ) {
    const bucket = this.bucketOf(p.bucket);
    const source = this.bucketOf(p.sourceBucket ?? p.bucket);
    return this.run(
      ctx,
      'copy_object',
      bucket,
      p.key,
      async () => void (await this.sourceHead(source, p.sourceKey)),
      async () => {
        const head = await this.sourceHead(source, p.sourceKey);
        return this.copyObject({ bucket: source, key: p.sourceKey }, head, { bucket, key: p.key });
      },
    );
  }

  /**
   * Undoes a step from its result: copies the before-image back (server-side) or deletes an
   * object that did not exist before, if the object is still what the step left. Reports
   * `undone` only after the restored object matches the before-image (size and ETag), then
   * deletes the before-image. Already as before → `absent`; changed by someone else → Conflict.
   */
  async restore(change: ObjectChange): Promise<'undone' | 'absent'> {
    const { bucket, key, before } = change;
    if (isLegacy(before)) return this.restoreLegacy(change, before);
    const cur = await this.head(bucket, key);
    const isAfter = change.afterEtag === null ? cur === null : cur !== null && cur.etag === change.afterEtag;
    const isBefore = before.absent ? cur === null : cur !== null && this.matches(cur, before);
    if (isBefore) {
      await this.dropBeforeImage(before);
      return 'absent';
    }
    if (!isAfter)
      throw new ConflictError(`${url(bucket, key)} changed since the step wrote it; not overwriting`);
    if (before.absent) {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      if ((await this.head(bucket, key)) !== null)
        throw new Error(`${url(bucket, key)} is still there after the delete; retrying`);
      return 'undone';
    }
    const blob = before.blob;
    const stored = blob ? await this.head(blob.bucket, blob.key) : null;
    if (!blob || !stored)
      throw new PermanentError(
        `${url(bucket, key)}: its before-image ${blob ? url(blob.bucket, blob.key) : '(none)'} is missing; cannot restore`,
        FailureTypes.Permanent,
      );
    if (stored.etag !== blob.etag || stored.size !== blob.size)
      throw new PermanentError(
        `${url(bucket, key)}: its before-image ${url(blob.bucket, blob.key)} changed since it was captured; not restoring it`,
        FailureTypes.Permanent,
      );
    try {
      await this.copyObject(blob, stored, { bucket, key }, { ifMatch: blob.etag });
    } catch (err) {
      throw withContext(err, `${url(bucket, key)}: restore from ${url(blob.bucket, blob.key)} failed`);
    }
    const now = await this.head(bucket, key);
    if (!now || !this.matches(now, before))
      throw new Error(
        `${url(bucket, key)}: the restored object (${now ? `${now.size} bytes, ETag ${now.etag}` : 'absent'}) does not match the before-image (${before.size} bytes, ETag ${before.etag}); retrying`,
      );
    await this.dropBeforeImage(before);
    return 'undone';
  }

  /** The object equals the before-image: same size and the old ETag or the ETag of its copy. */
  private matches(cur: Head, before: BeforeImage): boolean {
    return (
      cur.size === before.size &&
      cur.etag !== null &&
      (cur.etag === before.etag || cur.etag === before.blob?.etag)
    );
  }

  /** Restore from a result with the old inline before-image (sagas started before the upgrade). */
  private async restoreLegacy(change: ObjectChange, before: LegacyObjectImage): Promise<'undone' | 'absent'> {
    const { bucket, key } = change;
    const cur = await this.head(bucket, key);
    const isAfter = change.afterEtag === null ? cur === null : cur !== null && cur.etag === change.afterEtag;
    const isBefore = before.exists
      ? cur !== null && (cur.etag === before.etag || (before.body !== null && cur.etag === md5(before.body)))
      : cur === null;
    if (isBefore) return 'absent';
    if (!isAfter)
      throw new ConflictError(`${url(bucket, key)} changed since the step wrote it; not overwriting`);
    if (!before.exists) {
      await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
      return 'undone';
    }
    if (before.body === null) {
      throw new PermanentError(
        `${url(bucket, key)}: the step ran before out-of-band before-images and kept no copy of the old object (${before.size} bytes)`,
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

  /** Deletes the object the step wrote if it is unchanged (and its before-image); gone → `absent`. */
  async deleteWritten(change: ObjectChange): Promise<'undone' | 'absent'> {
    const cur = await this.head(change.bucket, change.key);
    if (!cur) {
      await this.dropBeforeImage(change.before);
      return 'absent';
    }
    if (change.afterEtag === null || cur.etag !== change.afterEtag) {
      throw new ConflictError(
        `${url(change.bucket, change.key)} changed since the step wrote it; not deleting`,
      );
    }
    await this.client.send(new DeleteObjectCommand({ Bucket: change.bucket, Key: change.key }));
    await this.dropBeforeImage(change.before);
    return 'undone';
  }
}
