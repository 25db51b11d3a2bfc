/**
 * End to end: definitions over a limit, or with a step timeout of zero, are refused by
 * `polysaga start` with exit 2 and one line naming the limit or field, and nothing is written:
 * no saga workflow, no identity-lock workflow, no audit row (docs/definitions.md, "Limits").
 * No worker runs: a refused definition must not need one.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WorkflowNotFoundError } from '@temporalio/client';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createAuditPool } from '../../src/audit/index.js';
import { connectTemporalClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { lockWorkflowId } from '../../src/saga/identity.js';
import { polysaga } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const env = { TEMPORAL_TASK_QUEUE: `polysaga-e2e-limits-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'polysaga-limits-'));
const MiB = 1024 * 1024;
let pool: pg.Pool;
let temporal: Awaited<ReturnType<typeof connectTemporalClient>>;

function definitionFile(name: string, def: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(def));
  return file;
}

/** A kv step whose payload serializes to a little more than `bytes`. */
function kvStep(id: string, bytes = 10, extra: object = {}) {
  return {
    id,
    backend: 'kv',
    operation: 'set',
    payload: { key: `limits:${run}:${id}`, value: 'v'.repeat(bytes) },
    ...extra,
  };
}

/** Asserts that nothing of saga `sagaId` (identity key `key`) exists anywhere. */
async function expectNothingWritten(sagaId: string, key: string): Promise<void> {
  for (const id of [sagaId, lockWorkflowId(key)]) {
    await expect(temporal.client.workflow.getHandle(id).describe(), id).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
  }
  const rows = await pool.query('SELECT count(*)::int AS n FROM uds3_saga_events WHERE saga_id = $1', [
    sagaId,
  ]);
  expect(rows.rows[0]).toEqual({ n: 0 });
}

beforeAll(async () => {
  const migrated = await polysaga(['migrate'], env);
  expect(migrated.code, migrated.stderr).toBe(0);
  pool = createAuditPool(config.postgres);
  temporal = await connectTemporalClient(config);
});

afterAll(async () => {
  await pool?.end();
  await temporal?.connection.close();
});

describe('polysaga start refuses definitions over a limit (exit 2, nothing written)', () => {
  it('a step timeout of zero: names the step, the field and the minimum', async () => {
    const sagaId = `limits-timeout-${run}`;
    const key = `limits-key-timeout-${run}`;
    const file = definitionFile('timeout', {
      name: 'limits-timeout',
      sagaId,
      identityKey: key,
      steps: [kvStep('a'), kvStep('b', 10, { timeout: '0s' })],
    });
    const r = await polysaga(['start', file], env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'polysaga: invalid saga definition: step "b" (steps[1]) field "timeout": must be at least 1s (minStepTimeoutMs, POLYSAGA_MIN_STEP_TIMEOUT), got 0s',
    ]);
    expect(r.stdout).toBe('');
    await expectNothingWritten(sagaId, key);
  });

  it('a definition over 16 MiB serialized: names maxDefinitionBytes', async () => {
    const sagaId = `limits-big-${run}`;
    const key = `limits-key-big-${run}`;
    // Five 3.5 MiB payloads: each within the per-step limit, 17.5 MiB together.
    const steps = Array.from({ length: 5 }, (_, i) => kvStep(`s${i}`, 3.5 * MiB));
    const r = await polysaga(
      ['start', definitionFile('big', { name: 'limits-big', sagaId, identityKey: key, steps })],
      env,
    );
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^polysaga: invalid saga definition: field "\(root\)": the definition is 17\.5 MiB \(\d+ bytes\) serialized; the limit is 16 MiB \(maxDefinitionBytes, POLYSAGA_MAX_DEFINITION_BYTES\)$/,
    );
    await expectNothingWritten(sagaId, key);
  });

  it('a step payload over 4 MiB: names the step, payload and maxStepPayloadBytes', async () => {
    const sagaId = `limits-payload-${run}`;
    const key = `limits-key-payload-${run}`;
    const r = await polysaga(
      [
        'start',
        definitionFile('payload', {
          name: 'limits-payload',
          sagaId,
          identityKey: key,
          steps: [kvStep('small'), kvStep('huge', 5 * MiB)],
        }),
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(2);
    const lines = r.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(
      /^polysaga: invalid saga definition: step "huge" \(steps\[1\]\) field "payload": is 5\.0 MiB \(\d+ bytes\) serialized; the limit per step is 4 MiB \(maxStepPayloadBytes, POLYSAGA_MAX_STEP_PAYLOAD_BYTES\)$/,
    );
    await expectNothingWritten(sagaId, key);
  });

  it('limits come from the environment: POLYSAGA_MAX_STEPS=2 refuses three steps', async () => {
    const sagaId = `limits-steps-${run}`;
    const key = `limits-key-steps-${run}`;
    const r = await polysaga(
      [
        'start',
        definitionFile('steps', {
          name: 'limits-steps',
          sagaId,
          identityKey: key,
          steps: [kvStep('a'), kvStep('b'), kvStep('c')],
        }),
      ],
      { ...env, POLYSAGA_MAX_STEPS: '2' },
    );
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      'polysaga: invalid saga definition: field "steps": 3 steps; the limit is 2 (maxSteps, POLYSAGA_MAX_STEPS)',
    );
    await expectNothingWritten(sagaId, key);
  });
});
