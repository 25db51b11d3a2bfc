/**
 * What `polysaga verify` reads of the s3 store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 */
import { createHash } from 'node:crypto';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Json } from '../../saga/contracts.js';
import type { BackendSnapshot } from '../define.js';

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');

/** Size and SHA-256 of an object. */
export async function s3Object(s3: S3Client, bucket: string, key: string): Promise<Json> {
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

/** An object verify reads. */
export interface S3ObjectTarget {
  kind: 's3-object';
  bucket: string;
  key: string;
}

/** The object an s3 step writes (bucket: the payload's, else `defaultBucket`). */
export function s3Targets(p: Record<string, unknown>, defaultBucket: string): S3ObjectTarget[] {
  return [
    {
      kind: 's3-object',
      bucket: typeof p.bucket === 'string' ? p.bucket : defaultBucket,
      key: String(p.key),
    },
  ];
}

/** What `polysaga verify` checks of the s3 store: the object a step writes. */
export const s3Snapshot: BackendSnapshot<S3ObjectTarget> = {
  targets: (_operation, p, options) => s3Targets(p, options.defaultBucket),
  describe: (t) => `s3 s3://${t.bucket}/${t.key}`,
  connect: ({ adapters }) => ({ read: (t) => s3Object(adapters.s3.client, t.bucket, t.key) }),
};
