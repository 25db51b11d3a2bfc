/**
 * `bodyFile` of s3 `put_object` steps: a local file that the client uploads before the saga
 * starts, so that big bodies never travel through Temporal. Each file is streamed (multipart,
 * @aws-sdk/lib-storage) to `polysaga/uploads/<sagaId>/<stepId>/<nonce>` in the configured bucket
 * (the nonce: a second start of the same saga id never overwrites the first one's upload) and
 * the step's payload gets `source: { bucket, key }` instead of `bodyFile`.
 *
 * Self-contained on purpose: {@link SagaClient} calls {@link uploadBodyFiles} between
 * validation and start, and nothing else of the client depends on it.
 */
import { randomUUID } from 'node:crypto';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Config } from '../config/index.js';
import type { JsonObject } from '../saga/contracts.js';
import type { NormalizedDefinition, NormalizedStep } from '../saga/definition.js';
import { InvalidDefinitionError, type ValidationIssue } from '../saga/errors.js';

/** One file uploaded for a step. */
export interface UploadedBodyFile {
  stepId: string;
  /** `payload.bodyFile` or `compensation.payload.bodyFile`. */
  field: string;
  path: string;
  bucket: string;
  key: string;
  size: number;
}

/** What {@link uploadBodyFiles} did. */
export interface BodyFileUploads {
  /** The definition with every `bodyFile` replaced by `source`. */
  definition: NormalizedDefinition;
  uploaded: UploadedBodyFile[];
  /** Deletes the uploaded objects (call it when the saga did not start). */
  discard(): Promise<void>;
}

interface Found {
  index: number;
  step: NormalizedStep;
  field: string;
  payload: JsonObject;
  path: string;
  key: string;
}

function isPut(backend: string | undefined, operation: string): boolean {
  return backend === 's3' && operation === 'put_object';
}

function findBodyFiles(def: NormalizedDefinition): Found[] {
  const out: Found[] = [];
  def.steps.forEach((step, index) => {
    const base = `polysaga/uploads/${def.sagaId}/${step.id}/${randomUUID().slice(0, 8)}`;
    if (isPut(step.backend, step.operation) && typeof step.payload.bodyFile === 'string')
      out.push({
        index,
        step,
        field: 'payload.bodyFile',
        payload: step.payload,
        path: resolve(step.payload.bodyFile),
        key: base,
      });
    const c = step.compensation;
    if (
      c !== null &&
      typeof c === 'object' &&
      isPut(c.backend ?? step.backend, c.operation) &&
      typeof c.payload.bodyFile === 'string'
    )
      out.push({
        index,
        step,
        field: 'compensation.payload.bodyFile',
        payload: c.payload,
        path: resolve(c.payload.bodyFile),
        key: `${base}.compensation`,
      });
  });
  return out;
}

/** Whether a definition names any local `bodyFile` (then {@link uploadBodyFiles} has work). */
export function hasBodyFiles(def: NormalizedDefinition): boolean {
  return findBodyFiles(def).length > 0;
}

function withSource(payload: JsonObject, source: JsonObject): JsonObject {
  const { bodyFile: _bodyFile, ...rest } = payload;
  return { ...rest, source };
}

/**
 * Uploads every `bodyFile` of `def` (s3 `put_object` steps and inline compensations) and returns
 * the definition with `source` in its place. Every file is checked before anything is uploaded.
 * Without body files: returns `def` unchanged and touches nothing (no S3 client is created).
 * @param s3 the `s3` configuration (default: `loadConfig().s3`, read only when needed).
 * @throws InvalidDefinitionError naming the step and field of a file that cannot be read.
 */
export async function uploadBodyFiles(
  def: NormalizedDefinition,
  s3?: Config['s3'],
): Promise<BodyFileUploads> {
  const found = findBodyFiles(def);
  if (found.length === 0) return { definition: def, uploaded: [], discard: () => Promise.resolve() };

  const issues: ValidationIssue[] = [];
  for (const f of found) {
    const st = await stat(f.path).catch((err: NodeJS.ErrnoException) => err);
    const problem = st instanceof Error ? (st.code ?? st.message) : st.isFile() ? null : 'not a regular file';
    if (problem)
      issues.push({
        stepId: f.step.id,
        stepIndex: f.index,
        field: f.field,
        message: `cannot read ${f.path}: ${problem}`,
      });
  }
  if (issues.length > 0) throw new InvalidDefinitionError(issues);

  // Loaded here so that importing the client stays cheap and free of the S3 SDK.
  const { createS3Client, removeObject, uploadFile } = await import('../backends/s3/adapter.js');
  const cfg = s3 ?? (await import('../config/index.js')).loadConfig().s3;
  const client = createS3Client(cfg);
  const uploaded: UploadedBodyFile[] = [];
  const discard = async () => {
    const c = createS3Client(cfg);
    try {
      for (const u of uploaded) await removeObject(c, u.bucket, u.key).catch(() => undefined);
    } finally {
      c.destroy();
    }
  };
  const replaced = new Map<JsonObject, JsonObject>();
  try {
    for (const f of found) {
      const contentType = typeof f.payload.contentType === 'string' ? f.payload.contentType : undefined;
      const target = { bucket: cfg.bucket, key: f.key, contentType };
      const { size } = await uploadFile(client, target, f.path);
      uploaded.push({
        stepId: f.step.id,
        field: f.field,
        path: f.path,
        bucket: cfg.bucket,
        key: f.key,
        size,
      });
      replaced.set(f.payload, withSource(f.payload, { bucket: cfg.bucket, key: f.key }));
    }
  } catch (err) {
    await discard();
    throw new Error(`uploading bodyFile ${found[uploaded.length]?.path}: ${(err as Error).message}`, {
      cause: err,
    });
  } finally {
    client.destroy();
  }
  const steps = def.steps.map((step): NormalizedStep => {
    const c = step.compensation;
    return {
      ...step,
      payload: replaced.get(step.payload) ?? step.payload,
      compensation:
        c !== null && typeof c === 'object' && replaced.has(c.payload)
          ? { ...c, payload: replaced.get(c.payload)! }
          : c,
    };
  });
  return { definition: { ...def, steps }, uploaded, discard };
}
