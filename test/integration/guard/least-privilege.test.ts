/**
 * Least-privilege roles against the stack's real PostgreSQL (docs/security.md):
 * - scripts/sql/least-privilege-roles.sql creates an audit role and a step role (names unique to
 *   this run: roles are cluster-wide), twice (idempotent);
 * - a worker running postgres steps as the step role and writing audit rows as the audit role
 *   commits a saga (row written, audit trail complete) and rolls one back (compensations as the
 *   step role; the s3 step's write-ahead record through the audit role);
 * - the step role gets "permission denied" on uds3_saga_events even through the adapter, with
 *   validation and the worker's guard bypassed; the audit role cannot UPDATE, DELETE or TRUNCATE
 *   audit rows;
 * - a forging definition that skipped the client's validation reaches the worker and is refused
 *   there (polysaga.GuardedStore), with no forged row.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PostgresAdapter } from '../../../src/backends/connect.js';
import { applyLeastPrivilegeRoles, createAuditPool } from '../../../src/audit/index.js';
import { SagaClient, type ConnectedTemporalClient } from '../../../src/client/index.js';
import { loadConfig, type Config } from '../../../src/config/index.js';
import type { NormalizedDefinition } from '../../../src/saga/definition.js';
import type { SagaWorker } from '../../../src/workers/index.js';
import { startInProcessSagas, type InProcessSagas } from '../../helpers/in-process.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const auditRole = `polysaga_test_audit_${run}`;
const stepRole = `polysaga_test_step_${run}`;
const auditPassword = randomBytes(12).toString('hex');
const stepPassword = randomBytes(12).toString('hex');
const table = `lp_orders_${run}`;
const taskQueue = `polysaga-least-privilege-${run}`;

/** A client that skips validation, as if the saga had been started directly through Temporal. */
class UncheckedSagaClient extends SagaClient {
  override validate(definition: unknown): Promise<NormalizedDefinition> {
    return Promise.resolve(definition as NormalizedDefinition);
  }
}

let owner: pg.Pool;
let env: InProcessSagas;
let worker: SagaWorker;
let connected: ConnectedTemporalClient;
let sagas: SagaClient;

function poolAs(user: string, password: string): pg.Pool {
  return createAuditPool({ ...config.postgres, user, password, poolMax: 2 });
}

beforeAll(async () => {
  owner = createAuditPool(config.postgres);
  await owner.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text NOT NULL)`);
  const roles = { auditRole, stepRole, auditPassword, stepPassword };
  await applyLeastPrivilegeRoles(owner, roles);
  await applyLeastPrivilegeRoles(owner, roles); // idempotent
  await owner.query(`GRANT SELECT, INSERT, UPDATE, DELETE ON ${table} TO ${stepRole}`);
  const workerConfig: Config = {
    ...config,
    postgres: {
      ...config.postgres,
      step: { user: stepRole, password: stepPassword },
      audit: { user: auditRole, password: auditPassword },
    },
  };
  env = await startInProcessSagas({ config: workerConfig, clientConfig: config, taskQueue });
  ({ worker, sagas, connected } = env);
});

afterAll(async () => {
  await env?.close();
  if (owner) {
    await owner.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
    for (const role of [auditRole, stepRole]) {
      await owner.query(`DROP OWNED BY ${role}`).catch(() => undefined);
      await owner.query(`DROP ROLE IF EXISTS ${role}`).catch(() => undefined);
    }
    await owner.end();
  }
});

async function statuses(sagaId: string): Promise<string[]> {
  const r = await owner.query<{ status: string }>(
    'SELECT status FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
    [sagaId],
  );
  return r.rows.map((x) => x.status);
}

describe('roles', () => {
  it('the worker uses them: the step pool logs in as the step role, audit as the audit role', async () => {
    const step = await worker.resources.adapters.stepPool.query<{ u: string }>('SELECT current_user AS u');
    const audit = await worker.resources.pool.query<{ u: string }>('SELECT current_user AS u');
    expect(step.rows[0]?.u).toBe(stepRole);
    expect(audit.rows[0]?.u).toBe(auditRole);
  });

  it('a saga with a postgres step commits under them, with its audit rows', async () => {
    const sagaId = `lp-commit-${run}`;
    const started = await sagas.createSaga({
      name: 'least-privilege',
      sagaId,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: 'o-1', title: 'first' } },
        },
      ],
    });
    const result = await started.result();
    expect(result.status.state).toBe('COMMITTED');
    const rows = await owner.query(`SELECT id, title FROM ${table}`);
    expect(rows.rows).toEqual([{ id: 'o-1', title: 'first' }]);
    expect(await statuses(sagaId)).toEqual([
      'SAGA_STARTED',
      'STEP_PENDING',
      'STEP_SUCCESS',
      'SAGA_COMMITTED',
    ]);
  });

  it('a saga that fails rolls back under them: the compensation deletes as the step role', async () => {
    const sagaId = `lp-rollback-${run}`;
    const started = await sagas.createSaga({
      name: 'least-privilege',
      sagaId,
      steps: [
        {
          id: 'a',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: 'o-2', title: 'a' } },
        },
        // Its write-ahead record and before-image go through the audit role's pool.
        {
          id: 'file',
          backend: 's3',
          operation: 'put_object',
          payload: { key: `least-privilege/${run}/o-2.txt`, body: 'order o-2' },
        },
        // The same key again: a constraint violation, never retried.
        {
          id: 'b',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: 'o-2', title: 'b' } },
        },
      ],
    });
    const result = await started.result();
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.failedAt).toBe('b');
    const rows = await owner.query(`SELECT id FROM ${table} WHERE id = 'o-2'`);
    expect(rows.rowCount).toBe(0);
    expect((await statuses(sagaId)).filter((x) => x === 'COMPENSATION_SUCCESS')).toHaveLength(2);
    const written = await owner.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM polysaga_idempotency WHERE key LIKE $1 AND backend = 's3'`,
      [`${sagaId}:%`],
    );
    expect(written.rows[0]?.n).toBeGreaterThan(0);
  });

  it('the step role cannot write or read the audit trail, even with validation and the guard bypassed', async () => {
    const pool = poolAs(stepRole, stepPassword);
    try {
      await expect(
        pool.query(
          `INSERT INTO uds3_saga_events (saga_id, seq, status) VALUES ('evil', 1, 'SAGA_COMMITTED')`,
        ),
      ).rejects.toThrow('permission denied for table uds3_saga_events');
      // The adapter a postgres step runs on, called directly: the database refuses.
      await expect(
        new PostgresAdapter(pool).insert(`lp-evil-${run}`, {
          table: 'uds3_saga_events',
          values: { saga_id: 'evil', seq: 1, status: 'SAGA_COMMITTED' },
          keyColumns: ['id'],
        }),
      ).rejects.toThrow('permission denied for table uds3_saga_events');
      for (const t of [
        'uds3_saga_events',
        'polysaga_blobs',
        'polysaga_schema_migrations',
        'polysaga_saga_runs',
      ])
        await expect(pool.query(`SELECT * FROM ${t} LIMIT 1`), t).rejects.toThrow(
          `permission denied for ${t.endsWith('runs') ? 'view' : 'table'} ${t}`,
        );
      const evil = await owner.query(
        `SELECT count(*)::int AS n FROM uds3_saga_events WHERE saga_id = 'evil'`,
      );
      expect(evil.rows[0]).toEqual({ n: 0 });
    } finally {
      await pool.end();
    }
  });

  it('the audit role reads and inserts audit rows but cannot UPDATE, DELETE or TRUNCATE them', async () => {
    const pool = poolAs(auditRole, auditPassword);
    const sagaId = `lp-commit-${run}`;
    try {
      const read = await pool.query('SELECT count(*)::int AS n FROM uds3_saga_events WHERE saga_id = $1', [
        sagaId,
      ]);
      expect(read.rows[0]).toEqual({ n: 4 });
      await expect(
        pool.query(`UPDATE uds3_saga_events SET status = 'SAGA_ROLLED_BACK' WHERE saga_id = $1`, [sagaId]),
      ).rejects.toThrow('permission denied for table uds3_saga_events');
      await expect(pool.query('DELETE FROM uds3_saga_events WHERE saga_id = $1', [sagaId])).rejects.toThrow(
        'permission denied for table uds3_saga_events',
      );
      await expect(pool.query('TRUNCATE uds3_saga_events')).rejects.toThrow(
        'permission denied for table uds3_saga_events',
      );
      expect(await statuses(sagaId)).toHaveLength(4);
    } finally {
      await pool.end();
    }
  });
});

describe('the worker guards what the client did not validate', () => {
  it('a forging insert into uds3_saga_events started without validation fails as polysaga.GuardedStore, nothing forged', async () => {
    const sagaId = `lp-forge-${run}`;
    const forged = `evil-${run}`;
    const definition: NormalizedDefinition = {
      name: 'forge',
      sagaId,
      traceId: sagaId,
      identityKey: null,
      compensation: { mode: 'sequential' },
      steps: [
        {
          id: 'forge',
          backend: 'postgres',
          operation: 'insert',
          payload: {
            table: 'uds3_saga_events',
            values: { saga_id: forged, seq: 1, status: 'SAGA_COMMITTED' },
          },
          compensation: 'relational_delete',
          idempotencyKey: `${sagaId}:forge`,
          kind: 'compensatable',
        },
      ],
    };
    const unchecked = new UncheckedSagaClient({ client: connected.client, taskQueue });
    const result = await (await unchecked.createSaga(definition)).result();
    expect(result.status.state).toBe('ROLLED_BACK');
    expect(result.status.failedAt).toBe('forge');
    expect(result.status.error).toContain('polysaga.GuardedStore');
    expect(result.status.error).toContain('payload.table: "uds3_saga_events" is reserved for polysaga');
    expect(result.status.steps[0]?.attempts).toBe(1); // non-retryable: refused once
    const rows = await owner.query('SELECT count(*)::int AS n FROM uds3_saga_events WHERE saga_id = $1', [
      forged,
    ]);
    expect(rows.rows[0]).toEqual({ n: 0 });
  });
});
