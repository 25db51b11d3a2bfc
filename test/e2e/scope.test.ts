/**
 * Two environments in one Temporal namespace, one PostgreSQL database and one Redis
 * (docs/deployment.md, "Several environments in one namespace"): `ENV=dev` and `ENV=staging`
 * with the same PROJECT_PREFIX, one `polysaga worker` each on its scope's default task queue,
 * start the SAME saga id with the same identity key and the same explicit idempotency key.
 * Both commit on their own worker; each environment's status, list and events see only its own
 * saga, the other's id is not found, audit rows, idempotency records and Redis keys are apart,
 * and the identity lock of one does not block the other.
 *
 * Each worker reaches the `hold` HTTP service on its own port, so the test knows which worker
 * made each call; the calls are held until both sagas run at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTemporalClient, SagaClient, type ConnectedTemporalClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createRedisClient, type RedisClient } from '../../src/backends/kv/adapter.js';
import { polysaga, startWorker } from '../helpers/cli.js';

type Env = 'dev' | 'staging';
const ENVS: Env[] = ['dev', 'staging'];
interface Call {
  env: Env;
  idempotencyKey: string | undefined;
  body: { saga?: string };
}

const run = randomBytes(4).toString('hex');
// A prefix of its own keeps this run's task queues (`<prefix>-dev`, `<prefix>-staging`) unique.
const prefix = `e2e${run}`;
const scope = (env: Env) => `${prefix}-${env}`;
const sagaId = `order-${run}`;
const identityKey = `doc-${run}`;
const name = `scoped_${run}`;
const table = `e2e_scope_${run}`;
const config = loadConfig();
const calls: Call[] = [];
const held: (() => void)[] = [];
let holding = true;
const servers: Server[] = [];
let pool: pg.Pool;
let redis: RedisClient;
let connected: ConnectedTemporalClient;
const dir = mkdtempSync(join(tmpdir(), 'polysaga-scope-'));

function handler(env: Env) {
  return (req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      calls.push({
        env,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
        body: JSON.parse(body || '{}') as Call['body'],
      });
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ ok: true }));
      };
      if (holding && req.method === 'POST') held.push(answer);
      else answer();
    });
  };
}

async function listen(env: Env): Promise<number> {
  const server = createServer(handler(env));
  servers.push(server);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

/** The same definition in both environments: same saga id, identity key and explicit idempotency key. */
function definitionFile(env: Env): string {
  const file = join(dir, `${env}.json`);
  writeFileSync(
    file,
    JSON.stringify({
      name,
      sagaId,
      identityKey,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: env, saga: '${sagaId}' } },
        },
        {
          id: 'mark',
          backend: 'kv',
          operation: 'set',
          payload: { key: `e2e_scope_${run}:${env}`, value: '${sagaId}' },
        },
        {
          id: 'call',
          backend: 'http',
          operation: 'request',
          idempotencyKey: `charge-${run}`,
          payload: { service: 'hold', method: 'POST', path: '/charge', body: { saga: '${sagaId}' } },
          compensation: {
            operation: 'request',
            payload: { service: 'hold', method: 'DELETE', path: '/charge' },
          },
          timeout: '30s',
        },
      ],
    }),
  );
  return file;
}

const envOf = (env: Env, port?: number): NodeJS.ProcessEnv => ({
  PROJECT_PREFIX: prefix,
  ENV: env,
  TEMPORAL_TASK_QUEUE: '',
  ...(port !== undefined
    ? { HTTP_SERVICES: JSON.stringify({ hold: { url: `http://127.0.0.1:${port}`, timeout: '30s' } }) }
    : {}),
});

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, saga text NOT NULL)`);
  redis = await createRedisClient(config.redis.url);
  connected = await connectTemporalClient(config);
});

afterAll(async () => {
  holding = false;
  for (const answer of held) answer();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  await connected?.close();
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
  await redis?.del(ENVS.map((e) => `e2e_scope_${run}:${e}`));
  await redis?.quit();
});

describe('ENV and PROJECT_PREFIX: two environments sharing one namespace and one database', () => {
  it('run the same saga id side by side, each seeing only its own', async () => {
    const ports = { dev: await listen('dev'), staging: await listen('staging') };
    const workers = {
      dev: await startWorker(envOf('dev', ports.dev)),
      staging: await startWorker(envOf('staging', ports.staging)),
    };
    try {
      for (const env of ENVS)
        expect(workers[env].log()).toContain(`task queue ${scope(env)} (scope ${scope(env)})`);

      // dev starts and holds its identity lock while its call is held ...
      const dev = await polysaga(['start', definitionFile('dev'), '--json'], envOf('dev'));
      expect(dev.stderr).toBe('');
      expect(JSON.parse(dev.stdout)).toMatchObject({ sagaId });
      await until('the call of dev', () => calls.some((c) => c.env === 'dev'), 60_000);
      // ... and staging starts the same saga id with the same identity key meanwhile.
      const staging = await polysaga(['start', definitionFile('staging'), '--json'], envOf('staging'));
      expect(staging.stderr).toBe('');
      expect(staging.code).toBe(0);
      await until('the call of staging', () => calls.some((c) => c.env === 'staging'), 60_000);
      // Within one environment the lock holds: a second saga with the key is refused (exit 4),
      // named as the user knows key and holder.
      const second = await polysaga(
        ['start', definitionFile('dev'), '--saga-id', `second-${run}`],
        envOf('dev'),
      );
      expect(second.code).toBe(4);
      expect(second.stderr).toContain(`identity key "${identityKey}" is locked by saga ${sagaId}`);

      // Both run at once: each list shows only its own saga, under the id its user gave.
      for (const env of ENVS) {
        const list = await polysaga(['list', '--name', name, '--json'], envOf(env));
        expect(list.code, list.stderr).toBe(0);
        const rows = JSON.parse(list.stdout) as { sagaId: string; workflowId: string; identityKey: string }[];
        expect(rows.map((r) => [r.sagaId, r.workflowId, r.identityKey])).toEqual([
          [sagaId, `@${scope(env)}/${sagaId}`, identityKey],
        ]);
      }

      holding = false;
      for (const answer of held.splice(0)) answer();
      for (const env of ENVS) {
        const cfg = loadConfig({ ...process.env, ...envOf(env) });
        const sagas = new SagaClient({
          client: connected.client,
          taskQueue: cfg.temporal.taskQueue,
          scope: cfg.scope,
        });
        const result = await sagas.waitForResult(sagaId);
        expect(result.status.state).toBe('COMMITTED');
        expect(result.status.sagaId).toBe(sagaId);
        // The saga ran on its scope's task queue.
        const d = await connected.client.workflow.getHandle(sagas.workflowIdOf(sagaId)).describe();
        expect(d.taskQueue).toBe(scope(env));
      }
    } finally {
      for (const w of Object.values(workers)) await w.stop();
    }

    // Each worker ran only its own environment's steps: the calls, with their scoped idempotency keys.
    for (const env of ENVS) {
      const mine = calls.filter((c) => c.env === env && c.body.saga !== undefined);
      expect(mine.length).toBeGreaterThan(0);
      expect(new Set(mine.map((c) => c.idempotencyKey))).toEqual(new Set([`@${scope(env)}/charge-${run}`]));
    }

    for (const env of ENVS) {
      const e = envOf(env);
      const status = await polysaga(['status', sagaId, '--json'], e);
      expect(status.code, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ sagaId, state: 'COMMITTED', identityKey });

      // events: the saga's own audit rows (stored under the scoped id, printed under the user's),
      // one row per transition of its three steps.
      const events = await polysaga(['events', sagaId, '--json'], e);
      expect(events.code, events.stderr).toBe(0);
      const rows = JSON.parse(events.stdout) as { sagaId: string; status: string; seq: number }[];
      expect(new Set(rows.map((r) => r.sagaId))).toEqual(new Set([sagaId]));
      expect(rows.map((r) => r.status)).toEqual([
        'SAGA_STARTED',
        ...['row', 'mark', 'call'].flatMap(() => ['STEP_PENDING', 'STEP_SUCCESS']),
        'SAGA_COMMITTED',
      ]);
      const stored = await pool.query<{ seq: number }>(
        `SELECT seq FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq`,
        [`@${scope(env)}/${sagaId}`],
      );
      expect(stored.rows.map((r) => Number(r.seq))).toEqual(rows.map((r) => Number(r.seq)));

      // recover takes the id as given and scans only this scope: nothing to do for a committed saga.
      const recover = await polysaga(['recover', '--saga-id', sagaId, '--max-retries', '0', '--json'], e);
      expect(recover.code, recover.stderr).toBe(0);
      expect((JSON.parse(recover.stdout) as { sagas: unknown[] }).sagas).toEqual([]);

      // The other environment's saga is not found from here, whichever way it is named.
      const other = scope(env === 'dev' ? 'staging' : 'dev');
      const cross = await polysaga(['status', `@${other}/${sagaId}`], e);
      expect(cross.code).toBe(3);
      expect(cross.stderr).toContain(`scope "${other}"`);
    }

    // The default scope (PROJECT_PREFIX=polysaga, ENV=prod) sees neither.
    const none = await polysaga(['status', sagaId], { PROJECT_PREFIX: '', ENV: '' });
    expect(none.code).toBe(3);
    const unscoped = new SagaClient({ client: connected.client, taskQueue: 'polysaga' });
    expect(await unscoped.listSagas({ name, all: true })).toEqual([]);

    // Apart in the shared stores: audit rows, idempotency records, Redis keys. The application's
    // rows carry the saga id as its user gave it (`${sagaId}` is filled before scoping).
    const audit = await pool.query<{ saga_id: string; n: string }>(
      `SELECT saga_id, count(*) AS n FROM uds3_saga_events WHERE saga_id LIKE $1 GROUP BY saga_id ORDER BY saga_id`,
      [`%${sagaId}`],
    );
    expect(audit.rows.map((r) => r.saga_id)).toEqual([
      `@${scope('dev')}/${sagaId}`,
      `@${scope('staging')}/${sagaId}`,
    ]);
    const runs = await pool.query<{ saga_id: string; scope: string }>(
      `SELECT saga_id, scope FROM polysaga_saga_runs WHERE saga_id LIKE $1 ORDER BY saga_id`,
      [`%${sagaId}`],
    );
    expect(runs.rows.map((r) => r.scope)).toEqual([scope('dev'), scope('staging')]);
    const idem = await pool.query<{ key: string }>(
      `SELECT key FROM polysaga_idempotency WHERE key LIKE $1 ORDER BY key`,
      [`%${sagaId}:row`],
    );
    expect(idem.rows.map((r) => r.key)).toEqual(ENVS.map((env) => `@${scope(env)}/${sagaId}:row`));
    const rows = await pool.query<{ id: string; saga: string }>(`SELECT id, saga FROM ${table} ORDER BY id`);
    expect(rows.rows).toEqual([
      { id: 'dev', saga: sagaId },
      { id: 'staging', saga: sagaId },
    ]);
    for (const env of ENVS) {
      expect(await redis.get(`e2e_scope_${run}:${env}`)).toBe(sagaId);
      const keys = await redis.keys(`${prefix}:${env}:idem:*`);
      expect(keys).toEqual([`${prefix}:${env}:idem:@${scope(env)}/${sagaId}:mark`]);
    }
  });
});
