/**
 * `s3` backend: put_object, delete_object, copy_object.
 *
 * Idempotency: write-ahead record in `polysaga_idempotency` (the before-image reference is stored
 * before the effect; the old object itself is copied server-side to `polysaga/before-images/…`).
 * Compensations: `s3_restore_object` (copy the old object back, or delete a new object) and
 * `s3_delete_object`; both refuse to touch an object whose ETag changed since.
 */
import type { S3CopyPayload, S3DeletePayload, S3PutPayload } from './catalog.js';
import type { ObjectChange, S3Adapter } from './adapter.js';
import { PermanentError } from '../errors.js';
import { FailureTypes, type JsonObject } from '../../saga/contracts.js';
import { op, type Backend } from '../types.js';
import { defineBackend } from '../define.js';
import { s3Snapshot } from './snapshot.js';
import { s3Catalog } from './catalog.js';

function change(result: JsonObject): ObjectChange {
  if (
    typeof result.bucket !== 'string' ||
    typeof result.key !== 'string' ||
    typeof result.before !== 'object' ||
    result.before === null
  ) {
    throw new PermanentError(
      'compensation needs the result of an s3 step (bucket, key, before, afterEtag)',
      FailureTypes.InvalidPayload,
    );
  }
  return result as ObjectChange;
}

export function createS3Backend(adapter: S3Adapter): Backend {
  return {
    name: 's3',
    operations: {
      put_object: op<S3PutPayload>((p, ctx) => adapter.put(ctx, p)),
      delete_object: op<S3DeletePayload>((p, ctx) => adapter.delete(ctx, p)),
      copy_object: op<S3CopyPayload>((p, ctx) => adapter.copy(ctx, p)),
    },
    compensations: {
      s3_restore_object: async (input) => ({ outcome: await adapter.restore(change(input.result)) }),
      s3_delete_object: async (input) => ({ outcome: await adapter.deleteWritten(change(input.result)) }),
    },
  };
}

/** The `s3` backend: its catalog and handlers over the worker's s3 client. */
export const s3Backend = defineBackend({
  ...s3Catalog,
  snapshot: s3Snapshot,
  connect: ({ adapters }) => createS3Backend(adapters.s3),
});
