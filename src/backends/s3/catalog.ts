/** Catalog of the `s3` backend (pure zod). */
import { z } from 'zod';
import type { BackendCatalog } from '../../saga/catalog.js';
import { S3_STEP_OPTIONS } from '../../saga/activity-options.js';
import type { StoreTarget } from '../../saga/guard.js';

const bucket = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'not a valid bucket name');
const objectKey = z.string().min(1).max(1024);

/** An object already in S3 (e.g. uploaded by the client from a local file). */
export const s3ObjectRef = z.object({ bucket: bucket.optional(), key: objectKey }).strict();

const bodySources = ['body', 'source', 'bodyFile'] as const;

/**
 * put_object: exactly one of `body` (inline, small: it travels through Temporal history),
 * `source` (server-side copy of an object already in S3) or `bodyFile` (a local file that the
 * client uploads before the saga starts and replaces by `source`).
 */
export const s3PutPayload = z
  .object({
    bucket: bucket.optional(),
    key: objectKey,
    body: z.string().optional(),
    source: s3ObjectRef.optional(),
    bodyFile: z.string().min(1).optional(),
    encoding: z.enum(['utf8', 'base64']).default('utf8'),
    contentType: z.string().optional(),
  })
  .superRefine((p, ctx) => {
    const given = bodySources.filter((f) => p[f] !== undefined);
    if (given.length === 0)
      ctx.addIssue({
        code: 'custom',
        path: ['body'],
        message: 'one of body, source or bodyFile is required',
      });
    for (const f of given.slice(1))
      ctx.addIssue({
        code: 'custom',
        path: [f],
        message: `give only one of body, source or bodyFile (${given.join(' and ')} given)`,
      });
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

const object = (
  field: string,
  bucket: string | undefined,
  key: string,
  access: 'write' | 'read',
): StoreTarget => ({ kind: 'object', field, bucket, key, access });

export const s3Catalog = {
  name: 's3',
  retry: S3_STEP_OPTIONS,
  operations: {
    put_object: {
      payload: s3PutPayload,
      targets: (p: S3PutPayload) => [
        object('key', p.bucket, p.key, 'write'),
        ...(p.source ? [object('source.key', p.source.bucket, p.source.key, 'read')] : []),
      ],
      defaultCompensation: 's3_restore_object',
      description:
        'PUT an object from body, source (an object already in S3) or bodyFile (uploaded by the client); result holds the new ETag and a reference to the before-image (copied server-side) if an object existed.',
    },
    delete_object: {
      payload: s3DeletePayload,
      targets: (p: S3DeletePayload) => [object('key', p.bucket, p.key, 'write')],
      defaultCompensation: 's3_restore_object',
      description: 'DELETE an object; result holds a reference to the before-image (copied server-side).',
    },
    copy_object: {
      payload: s3CopyPayload,
      targets: (p: S3CopyPayload) => [
        object('key', p.bucket, p.key, 'write'),
        object('sourceKey', p.sourceBucket ?? p.bucket, p.sourceKey, 'read'),
      ],
      defaultCompensation: 's3_restore_object',
      description:
        'COPY sourceKey to key (server-side); result holds a reference to the old target (before-image) if one existed.',
    },
  },
  compensations: {
    s3_delete_object: {
      description: 'Deletes the object a step wrote, unless it changed since.',
    },
    s3_restore_object: {
      description:
        'Copies the before-image back (server-side, verified by size and ETag), or deletes the object if there was none, unless it changed since.',
    },
  },
} satisfies BackendCatalog;
