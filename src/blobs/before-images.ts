/**
 * Before-images out of band: the result of a postgres, kv, neo4j or vector step keeps its
 * before-image (`before`, and neo4j's `relationships`) in the blob store under
 * `before/<idempotency key>` and carries only a {@link BeforeImageRef} in `beforeImageRef`.
 * Temporal history and the audit row's compensation entry hold the reference; a compensation
 * (run by the worker or by `polysaga recover` from the audit trail) resolves it first.
 *
 * Why not only the claim-check codec: it moves payloads over the threshold, so a 2 KiB row
 * image would still be in history; every before-image goes out of band, whatever its size.
 *
 * Durability: every backend here already records its result (before-image included) together
 * with the write (PostgreSQL idempotency row in the same transaction, the Redis idempotency key
 * in the same Lua script, the Neo4j idempotency node in the same transaction, the write-ahead
 * row for vector). The blob is written from that result right after; a retried activity gets
 * the same result from the idempotency record and writes the same blob (a no-op).
 */
import type { Backend, CompensationHandler, OperationHandler } from '../backends/types.js';
import { PermanentError } from '../backends/errors.js';
import type { CompensateStepInput, Json, JsonObject } from '../saga/contracts.js';
import { FailureTypes } from '../saga/contracts.js';
import { BlobConflictError, sha256Hex, type BlobStore } from './store.js';

/** Result key holding the reference. */
export const BEFORE_IMAGE_REF_KEY = 'beforeImageRef';

/** The reference a step result carries instead of its before-image fields. */
export interface BeforeImageRef extends JsonObject {
  /** Blob key, `before/<idempotency key>`. */
  blob: string;
  sha256: string;
  size: number;
  /** The result fields stored in the blob (e.g. `["before"]`). */
  fields: string[];
}

/** Which result fields are the before-image, per backend (S3 keeps its own, see docs/blobs.md). */
export const BEFORE_IMAGE_FIELDS: Readonly<Record<string, readonly string[]>> = {
  postgres: ['before'],
  kv: ['before'],
  neo4j: ['before', 'relationships'],
  vector: ['before'],
};

/** Blob key of a step's before-image. */
export function beforeImageKey(idempotencyKey: string): string {
  return `before/${idempotencyKey}`;
}

const isEmpty = (v: Json | undefined) =>
  v === undefined || v === null || (Array.isArray(v) && v.length === 0);
const isObject = (v: unknown): v is JsonObject => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Moves the non-empty `fields` of `result` into the store and returns the result with a
 * {@link BEFORE_IMAGE_REF_KEY} instead. Nothing to move (an insert: `before: null`): the result
 * is returned unchanged.
 */
export async function offloadBeforeImage(
  store: BlobStore,
  result: JsonObject,
  fields: readonly string[],
  ctx: { sagaId: string; stepId: string; idempotencyKey: string },
): Promise<JsonObject> {
  if (BEFORE_IMAGE_REF_KEY in result) return result;
  const moved = fields.filter((f) => !isEmpty(result[f]));
  if (moved.length === 0) return result;
  const image: JsonObject = {};
  const rest: JsonObject = { ...result };
  for (const f of moved) {
    image[f] = result[f]!;
    delete rest[f];
  }
  let bytes: Uint8Array = Buffer.from(JSON.stringify(image), 'utf8');
  const key = beforeImageKey(ctx.idempotencyKey);
  try {
    await store.put(key, bytes, { sagaId: ctx.sagaId, stepId: ctx.stepId });
  } catch (err) {
    if (!(err instanceof BlobConflictError)) throw err;
    // The backend ran the effect again under the same key (its own idempotency record had
    // expired): the image captured first is the true one, so the reference points at it.
    const first = await store.get(key);
    if (first === null) throw err;
    bytes = first;
  }
  const ref: BeforeImageRef = { blob: key, sha256: sha256Hex(bytes), size: bytes.byteLength, fields: moved };
  return { ...rest, [BEFORE_IMAGE_REF_KEY]: ref };
}

/**
 * The result with its before-image fields back from the store (unchanged when it holds no
 * reference). A missing or altered blob is a non-retryable error: the compensation cannot
 * restore, so the saga must not report ROLLED_BACK.
 */
export async function resolveBeforeImage(store: BlobStore, result: JsonObject): Promise<JsonObject> {
  const ref = result[BEFORE_IMAGE_REF_KEY];
  if (ref === undefined) return result;
  if (!isObject(ref) || typeof ref.blob !== 'string' || typeof ref.sha256 !== 'string') {
    throw new PermanentError(
      `${BEFORE_IMAGE_REF_KEY} must be {blob, sha256, size, fields}`,
      FailureTypes.InvalidPayload,
    );
  }
  const bytes = await store.get(ref.blob);
  if (bytes === null) {
    throw new PermanentError(
      `before-image ${ref.blob} is missing from polysaga_blobs; the step cannot be restored`,
      FailureTypes.NotFound,
    );
  }
  if (sha256Hex(bytes) !== ref.sha256) {
    throw new PermanentError(
      `before-image ${ref.blob} does not match the sha256 of its reference`,
      FailureTypes.Conflict,
    );
  }
  const image = JSON.parse(Buffer.from(bytes).toString('utf8')) as JsonObject;
  const out: JsonObject = { ...result, ...image };
  delete out[BEFORE_IMAGE_REF_KEY];
  // Fields that were empty were not moved; the handlers expect them present.
  return out;
}

/**
 * Wraps a backend so its operations return before-image references and its compensations
 * resolve them. `fields` defaults to {@link BEFORE_IMAGE_FIELDS}[backend.name]; a backend
 * without an entry is returned as it is.
 */
export function withBeforeImagesOutOfBand(
  backend: Backend,
  store: BlobStore,
  fields: readonly string[] | undefined = BEFORE_IMAGE_FIELDS[backend.name],
): Backend {
  if (!fields || fields.length === 0) return backend;
  const operations: Record<string, OperationHandler> = {};
  for (const [name, handler] of Object.entries(backend.operations)) {
    operations[name] = async (payload: never, ctx) =>
      offloadBeforeImage(store, await handler(payload, ctx), fields, ctx);
  }
  const compensations: Record<string, CompensationHandler> = {};
  for (const [name, handler] of Object.entries(backend.compensations)) {
    compensations[name] = async (input: CompensateStepInput) =>
      handler({ ...input, result: await resolveBeforeImage(store, input.result) });
  }
  return { ...backend, operations, compensations };
}
