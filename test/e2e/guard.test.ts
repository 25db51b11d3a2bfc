/**
 * End to end: guarded stores through the `polysaga` CLI (docs/security.md, "Guarded stores").
 * The attacker's definition, a postgres insert of a forged SAGA_COMMITTED row into
 * uds3_saga_events, is refused by `polysaga start` and `polysaga validate` with exit 2 and one
 * line naming the field; no workflow starts and no audit row of saga "evil" exists. An allowlist
 * from the environment refuses a table outside it, naming the variable. No worker runs: a
 * refused definition must not need one.
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
import { polysaga } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const env = { TEMPORAL_TASK_QUEUE: `polysaga-e2e-guard-${run}` };
const dir = mkdtempSync(join(tmpdir(), 'polysaga-guard-'));
let pool: pg.Pool;
let temporal: Awaited<ReturnType<typeof connectTemporalClient>>;

function definitionFile(name: string, def: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(def));
  return file;
}

/** The attacker's definition of issue 9. */
function forging(sagaId: string, table = 'uds3_saga_events') {
  return {
    name: 'forge',
    sagaId,
    steps: [
      {
        id: 'forge',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { saga_id: 'evil', seq: 1, status: 'SAGA_COMMITTED' } },
      },
    ],
  };
}

async function auditRows(sagaId: string): Promise<number> {
  const r = await pool.query<{ n: number }>(
    'SELECT count(*)::int AS n FROM uds3_saga_events WHERE saga_id = $1',
    [sagaId],
  );
  return r.rows[0]?.n ?? -1;
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

describe('polysaga start and validate refuse steps on polysaga’s own objects (exit 2, nothing written)', () => {
  it('start: the forged SAGA_COMMITTED insert into uds3_saga_events', async () => {
    const sagaId = `guard-forge-${run}`;
    const r = await polysaga(['start', definitionFile('forge', forging(sagaId))], env);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim().split('\n')).toEqual([
      'polysaga: invalid saga definition: step "forge" (steps[0]) field "payload.table": "uds3_saga_events" is reserved for polysaga',
    ]);
    expect(r.stdout).toBe('');
    await expect(temporal.client.workflow.getHandle(sagaId).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    expect(await auditRows('evil')).toBe(0);
    expect(await auditRows(sagaId)).toBe(0);
  });

  it('validate: the same refusal, and any spelling of the table; a valid definition passes', async () => {
    for (const table of ['uds3_saga_events', 'public.UDS3_SAGA_EVENTS', 'polysaga_idempotency']) {
      const r = await polysaga(
        ['validate', definitionFile('forge-v', forging(`guard-v-${run}`, table))],
        env,
      );
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr.trim()).toBe(
        `polysaga: invalid saga definition: step "forge" (steps[0]) field "payload.table": ${JSON.stringify(table)} is reserved for polysaga`,
      );
    }
    const ok = await polysaga(
      ['validate', definitionFile('ok', forging(`guard-ok-${run}`, 'documents'))],
      env,
    );
    expect(ok.code, ok.stderr).toBe(0);
    expect(ok.stdout).toBe('valid: forge, 1 step\n');
  });

  it('start with an allowlist: a table outside POLYSAGA_ALLOW_POSTGRES_TABLES is refused, naming it', async () => {
    const sagaId = `guard-allow-${run}`;
    const r = await polysaga(['start', definitionFile('allow', forging(sagaId, 'documents'))], {
      ...env,
      POLYSAGA_ALLOW_POSTGRES_TABLES: 'public.orders,sales.*',
    });
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.trim()).toBe(
      'polysaga: invalid saga definition: step "forge" (steps[0]) field "payload.table": "documents" is not in the allowlist POLYSAGA_ALLOW_POSTGRES_TABLES (public.orders, sales.*)',
    );
    await expect(temporal.client.workflow.getHandle(sagaId).describe()).rejects.toBeInstanceOf(
      WorkflowNotFoundError,
    );
    expect(await auditRows(sagaId)).toBe(0);
  });
});
