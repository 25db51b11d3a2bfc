/**
 * Big data out of Temporal history, through real sagas on the stack's Temporal dev server with
 * a polysaga worker (claim-check codec + before-image references):
 * - a kv step sets a 3 MiB value: the saga commits, Redis holds the value, and the raw history
 *   (read by a client without the codec) holds no payload over the threshold;
 * - a postgres update and a kv set of existing data, then a failing step: the compensations
 *   resolve the before-image references (encrypted blobs when codec keys are configured) and
 *   restore both; the history never holds the old data;
 * - the STEP_SUCCESS rows of the audit trail alone (rebuildCompensationStack) undo a committed
 *   saga, as `polysaga recover` does.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from '@temporalio/client';
import type { Payload } from '@temporalio/common';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readEvents, rebuildCompensationStack } from '../../../src/audit/index.js';
import {
  BEFORE_IMAGE_REF_KEY,
  CLAIM_CHECK_ENCODING,
  EncryptionCodec,
  payloadSize,
} from '../../../src/blobs/index.js';
import type { SagaClient } from '../../../src/client/index.js';
import { loadConfig } from '../../../src/config/index.js';
import type { JsonObject } from '../../../src/saga/contracts.js';
import { createActivities, type SagaWorker } from '../../../src/workers/index.js';
import { startInProcessSagas, type InProcessSagas } from '../../helpers/in-process.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const table = `blobs_saga_${run}`;
const threshold = config.payloads.thresholdBytes;

let env: InProcessSagas;
let worker: SagaWorker;
let sagas: SagaClient;
let raw: Client;

beforeAll(async () => {
  env = await startInProcessSagas({
    config,
    taskQueue: `polysaga-blobs-${run}`,
    tables: [`${table} (id text PRIMARY KEY, title text NOT NULL)`],
  });
  ({ worker, sagas } = env);
  // The same connection without the codec: what Temporal really stores.
  raw = new Client({ connection: env.connected.connection, namespace: config.temporal.namespace });
});
afterAll(async () => {
  await env?.close();
});

/** Every payload of a workflow's raw history. */
async function historyPayloads(workflowId: string): Promise<Payload[]> {
  const history = await raw.workflow.getHandle(workflowId).fetchHistory();
  const out: Payload[] = [];
  const walk = (v: unknown) => {
    if (v === null || typeof v !== 'object') return;
    if (v instanceof Uint8Array) return;
    const o = v as Record<string, unknown>;
    if (o.data instanceof Uint8Array && typeof o.metadata === 'object' && o.metadata !== null) {
      out.push(o);
      return;
    }
    for (const x of Array.isArray(v) ? v : Object.values(o)) walk(x);
  };
  walk(history.events);
  return out;
}

/** The codec keys of the configuration decrypt history payloads (claim-check references stay). */
const encrypted = config.codec.keys.length > 0;
const decrypt = (payloads: Payload[]) =>
  encrypted ? new EncryptionCodec(config.codec.keys).decode(payloads) : Promise.resolve(payloads);

const text = (b: Uint8Array | null | undefined) => Buffer.from(b ?? new Uint8Array()).toString('utf8');

describe('payloads over the threshold', () => {
  it('a saga setting a 3 MiB kv value commits, Redis holds it, and history holds only references', async () => {
    const sagaId = `blobs-big-${run}`;
    const key = `blobs:big:${run}`;
    const value = randomBytes((3 * 1024 * 1024 * 3) / 4).toString('base64');
    expect(value.length).toBe(3 * 1024 * 1024);
    const r = await sagas.executeSaga({
      name: 'blobs-big',
      sagaId,
      steps: [
        { id: 'big', backend: 'kv', operation: 'set', payload: { key, value } },
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: sagaId, title: 't' } },
        },
      ],
    });
    expect(r.status.state).toBe('COMMITTED');
    expect(await worker.resources.redis.get(key)).toBe(value);
    await worker.resources.redis.del(key);

    const payloads = await historyPayloads(sagaId);
    const over = payloads.filter((p) => payloadSize(p) > threshold);
    expect(over.map(payloadSize)).toEqual([]);
    const refs = payloads.filter((p) => text(p.metadata?.encoding) === CLAIM_CHECK_ENCODING);
    expect(refs.length).toBeGreaterThan(0);
    // The start input (the definition with the value) is stored under the saga's id.
    const keys = refs.map((p) => (JSON.parse(text(p.data)) as { key: string }).key);
    const rows = await worker.resources.pool.query<{ key: string; saga_id: string | null; size: string }>(
      'SELECT key, saga_id, size FROM polysaga_blobs WHERE key = ANY($1)',
      [keys],
    );
    expect(new Set(rows.rows.map((x) => x.key))).toEqual(new Set(keys));
    expect(rows.rows.some((x) => x.saga_id === sagaId)).toBe(true);
    expect(rows.rows.every((x) => Number(x.size) > threshold)).toBe(true);
  });
});

describe('before-images out of band', () => {
  it('a failing saga restores an updated row and an overwritten key from their before-image references', async () => {
    const sagaId = `blobs-undo-${run}`;
    const oldTitle = `old-title-${run}`;
    const oldValue = `old-value-${run}`;
    const kvKey = `blobs:undo:${run}`;
    await worker.resources.pool.query(`INSERT INTO ${table} (id, title) VALUES ('u1', $1), ('dup', 'x')`, [
      oldTitle,
    ]);
    await worker.resources.redis.set(kvKey, oldValue);

    const r = await sagas.executeSaga({
      name: 'blobs-undo',
      sagaId,
      steps: [
        {
          id: 'upd',
          backend: 'postgres',
          operation: 'update',
          payload: { table, key: { id: 'u1' }, set: { title: 'new' } },
        },
        { id: 'kv', backend: 'kv', operation: 'set', payload: { key: kvKey, value: 'new-value' } },
        // A permanent failure: the primary key exists.
        {
          id: 'boom',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: 'dup', title: 'y' } },
        },
      ],
    });
    expect(r.status.state).toBe('ROLLED_BACK');
    const row = await worker.resources.pool.query(`SELECT title FROM ${table} WHERE id = 'u1'`);
    expect(row.rows).toEqual([{ title: oldTitle }]);
    expect(await worker.resources.redis.get(kvKey)).toBe(oldValue);

    // The before-images are blobs of the saga's steps…
    const blobs = await worker.resources.pool.query<{
      key: string;
      saga_id: string;
      step_id: string;
      bytes: Buffer;
    }>(`SELECT key, saga_id, step_id, bytes FROM polysaga_blobs WHERE key IN ($1, $2) ORDER BY key`, [
      `before/${sagaId}:kv`,
      `before/${sagaId}:upd`,
    ]);
    expect(blobs.rows.map((b) => [b.key, b.saga_id, b.step_id])).toEqual([
      [`before/${sagaId}:kv`, sagaId, 'kv'],
      [`before/${sagaId}:upd`, sagaId, 'upd'],
    ]);
    // …encrypted when the configuration has codec keys (the local stack's default)…
    for (const b of blobs.rows)
      expect(b.bytes.includes(oldTitle) || b.bytes.includes(oldValue)).toBe(!encrypted);
    const image = async (key: string) =>
      JSON.parse(text(await worker.resources.beforeImages.get(key))) as unknown;
    expect(await image(`before/${sagaId}:kv`)).toEqual({ before: oldValue });
    expect(await image(`before/${sagaId}:upd`)).toEqual({ before: { id: 'u1', title: oldTitle } });
    // …and neither Temporal history (decrypted) nor the audit trail holds the old data, only the references.
    const all = (await decrypt(await historyPayloads(sagaId))).map((p) => text(p.data)).join('\n');
    expect(all).toContain(BEFORE_IMAGE_REF_KEY);
    expect(all).not.toContain(oldTitle);
    expect(all).not.toContain(oldValue);
    const events = await readEvents(worker.resources.pool, sagaId);
    const success = events.filter((e) => e.status === 'STEP_SUCCESS' && e.stepId === 'upd');
    expect(success).toHaveLength(1);
    const result = (success[0]!.payload.compensationEntry as JsonObject).result as JsonObject;
    expect(result).not.toHaveProperty('before');
    expect(result[BEFORE_IMAGE_REF_KEY]).toMatchObject({ blob: `before/${sagaId}:upd`, fields: ['before'] });
    expect(JSON.stringify(events)).not.toContain(oldTitle);
  });

  it('the audit trail alone undoes a committed saga (what polysaga recover does)', async () => {
    const sagaId = `blobs-recover-${run}`;
    const oldTitle = `recover-old-${run}`;
    const kvKey = `blobs:recover:${run}`;
    await worker.resources.pool.query(`INSERT INTO ${table} (id, title) VALUES ('r1', $1)`, [oldTitle]);
    await worker.resources.redis.set(kvKey, 'recover-old-value');
    const r = await sagas.executeSaga({
      name: 'blobs-recover',
      sagaId,
      steps: [
        {
          id: 'upd',
          backend: 'postgres',
          operation: 'update',
          payload: { table, key: { id: 'r1' }, set: { title: 'committed' } },
        },
        { id: 'kv', backend: 'kv', operation: 'set', payload: { key: kvKey, value: 'committed-value' } },
      ],
    });
    expect(r.status.state).toBe('COMMITTED');

    const stack = rebuildCompensationStack(await readEvents(worker.resources.pool, sagaId));
    expect(stack.map((e) => e.stepId)).toEqual(['upd', 'kv']);
    expect(stack.every((e) => BEFORE_IMAGE_REF_KEY in e.result && !('before' in e.result))).toBe(true);
    const activities = createActivities(worker.resources, config);
    for (const entry of [...stack].reverse()) {
      const out = await activities.compensateStep({
        ...entry,
        sagaId,
        sagaName: 'blobs-recover',
        traceId: 't',
      });
      expect(out.outcome).toBe('undone');
    }
    const row = await worker.resources.pool.query(`SELECT title FROM ${table} WHERE id = 'r1'`);
    expect(row.rows).toEqual([{ title: oldTitle }]);
    expect(await worker.resources.redis.get(kvKey)).toBe('recover-old-value');
    await worker.resources.redis.del(kvKey);
  });
});
