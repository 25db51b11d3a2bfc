/** Catalog of the `s3` backend (pure zod). */
import { z } from 'zod';
import type { BackendSpec } from './types.js';

const bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name');
const objectKey = z.string().min(1).max(1024);

export const s3PutPayload = z.object({
  bucket: bucket.optional(),
  key: objectKey,
  body: z.string(),
  encoding: z.enum(['utf8', 'base64']).default('utf8'),
  contentType: z.string().optional(),
});
export const s3DeletePayload = z.object({ bucket: bucket.optional(), key: objectKey });
export const s3CopyPayload = z.object({
  bucket: bucket.optional(),
  key: objectKey,
  sourceBucket: bucket.optional(),
  sourceKey: objectKey,
});
export type S3PutPayload = z.infer<typeof s3PutPayload>;
export type S3DeletePayload = z.infer<typeof s3DeletePayload>;
export type S3CopyPayload = z.infer<typeof s3CopyPayload>;

export const s3Backend: BackendSpec = {
  operations: {
    put_object: {
      payload: s3PutPayload,
      defaultCompensation: 's3_restore_object',
      description:
        'PUT an object; result holds the new ETag and the old object (base64 before-image) if one existed.',
    },
    delete_object: {
      payload: s3DeletePayload,
      defaultCompensation: 's3_restore_object',
      description: 'DELETE an object; result holds the old object (base64 before-image).',
    },
    copy_object: {
      payload: s3CopyPayload,
      defaultCompensation: 's3_restore_object',
      description: 'COPY sourceKey to key; result holds the old target object (before-image) if one existed.',
    },
  },
};

export const s3Compensations = {
  s3_delete_object: {
    backend: 's3',
    description: 'Deletes the object a step wrote, unless it changed since.',
  },
  s3_restore_object: {
    backend: 's3',
    description:
      'Puts the before-image back (old bytes), or deletes the object if there was none, unless it changed since.',
  },
};
