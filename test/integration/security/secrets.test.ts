/**
 * Secrets masked by value, end to end on the stack: a real worker (its own task queue) runs
 * sagas whose HTTP steps call a service (node:http, started here) that echoes the configured
 * X-INTERNAL-TOKEN in its JSON body (`echoedToken`), in a 400 error body and in the body of the
 * compensation's request. The token must appear in no audit row, nowhere in the raw Temporal
 * history (`temporal workflow show --output json`, payloads base64-decoded) and nowhere in the
 * worker's log; `***` stands where it was.
 */
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SagaClient, type ConnectedTemporalClient } from '../../../src/client/index.js';
import { loadConfig, maskableSecrets } from '../../../src/config/index.js';
import type { SagaWorker } from '../../../src/workers/index.js';
import { startInProcessSagas, type InProcessSagas } from '../../helpers/in-process.js';
import { SecretMasker } from '../../../src/audit/redact.js';
import { InvalidDefinitionError } from '../../../src/saga/errors.js';

const run = randomUUID().slice(0, 8);
const TOKEN = `tok-${randomUUID()}`;
const taskQueue = `polysaga-secrets-${run}`;
const logs: string[] = [];
/** Every secret value the configuration masks (the token and the stack's other secrets). */
let secrets: string[] = [];

let server: Server;
let env: InProcessSagas;
let worker: SagaWorker;
let connected: ConnectedTemporalClient;
let sagas: SagaClient;

beforeAll(async () => {
  // Everything the worker and its activities log, at every level, with its metadata.
  Runtime.install({
    logger: new DefaultLogger('TRACE', (e) =>
      logs.push(`${e.level} ${e.message} ${JSON.stringify(e.meta ?? {})}`),
    ),
  });
  server = createServer((req, res) => {
    const token = req.headers['x-internal-token'];
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString('utf8')));
    req.on('end', () => {
      const status = req.url?.startsWith('/fail') ? 400 : 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          id: 'item-1',
          echoedToken: token,
          headers: { authorization: `Bearer ${String(token)}` },
          request: body,
          ...(status === 400 ? { error: `refused request with token ${String(token)}` } : {}),
        }),
      );
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const addr = server.address();
  const url = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  const config = loadConfig({
    ...process.env,
    // Without payload encryption, so that the raw history shows what masking left there
    // (encryption on top is tested by test/e2e/encrypted-history.test.ts).
    POLYSAGA_CODEC_KEYS: undefined,
    POLYSAGA_CODEC_KEYS_FILE: undefined,
    HTTP_INTERNAL_TOKEN: TOKEN,
    HTTP_SERVICES: JSON.stringify({ echo: { url } }),
  });
  secrets = maskableSecrets(config).values;
  expect(secrets).toContain(TOKEN);
  env = await startInProcessSagas({ config, taskQueue });
  ({ worker, sagas, connected } = env);
});

afterAll(async () => {
  await env?.close();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
});

/** The saga's audit rows, as text. */
async function auditText(sagaId: string): Promise<{ rows: number; text: string }> {
  const r = await worker.resources.pool.query<{ j: unknown }>(
    'SELECT row_to_json(e) AS j FROM uds3_saga_events e WHERE saga_id = $1 ORDER BY seq',
    [sagaId],
  );
  return { rows: r.rowCount ?? 0, text: JSON.stringify(r.rows.map((x) => x.j)) };
}

/** The raw history from the temporal CLI, with every base64 payload decoded next to it. */
function historyText(sagaId: string): string {
  const out = execFileSync(
    process.env.POLYSAGA_TEMPORAL_BIN ?? 'temporal',
    [
      'workflow',
      'show',
      '--workflow-id',
      sagaId,
      '--address',
      loadConfig().temporal.address,
      '--output',
      'json',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
  );
  const parts = [out];
  const walk = (v: unknown): void => {
    if (typeof v === 'string') {
      if (/^[A-Za-z0-9+/]+={0,2}$/.test(v) && v.length % 4 === 0)
        parts.push(Buffer.from(v, 'base64').toString('utf8'));
    } else if (Array.isArray(v)) v.forEach(walk);
    else if (v !== null && typeof v === 'object') Object.values(v).forEach(walk);
  };
  walk(JSON.parse(out));
  return parts.join('\n');
}

const echo = (id: string, path: string) => ({
  id,
  backend: 'http',
  operation: 'request',
  payload: {
    service: 'echo',
    method: 'POST',
    path,
    body: { note: 'hello' },
    undo: { method: 'DELETE', path: '/echo/{{result.body.id}}' },
  },
});

describe('a service that echoes the internal token', () => {
  it('a committed saga: the token is in no audit row, not in history, not in the log; *** is', async () => {
    const sagaId = `secrets-ok-${run}`;
    const r = await sagas.executeSaga({ name: 'secrets-ok', sagaId, steps: [echo('echo', '/echo')] });
    expect(r.status.state).toBe('COMMITTED');

    const audit = await auditText(sagaId);
    expect(audit.rows).toBeGreaterThanOrEqual(3);
    expect(audit.text).not.toContain(TOKEN);
    expect(audit.text).toContain('"echoedToken":"***"');
    expect(audit.text).toContain('"authorization":"[REDACTED]"'); // by key name, as before

    const history = historyText(sagaId);
    expect(history).not.toContain(TOKEN);
    expect(history).toContain('"echoedToken":"***"');
    expect(history).toContain('Bearer ***');
  });

  it('a saga failing on an error body with the token rolls back: token masked in errors and compensation results', async () => {
    const sagaId = `secrets-fail-${run}`;
    const r = await sagas.executeSaga({
      name: 'secrets-fail',
      sagaId,
      steps: [echo('first', '/echo'), { ...echo('second', '/fail'), kind: 'pivot', compensation: null }],
    });
    expect(r.status.state).toBe('ROLLED_BACK');

    const audit = await auditText(sagaId);
    expect(audit.text).not.toContain(TOKEN);
    expect(audit.text).toContain('STEP_FAIL');
    expect(audit.text).toMatch(/→ 400: .*\*\*\*/);
    expect(audit.text).toContain('COMPENSATION_SUCCESS');

    const history = historyText(sagaId);
    expect(history).not.toContain(TOKEN);
    expect(history).toContain('***');
  });

  it('a definition holding the token is refused by a client that knows the secrets, naming the field', async () => {
    const guarded = new SagaClient({
      client: connected.client,
      taskQueue,
      secrets: new SecretMasker(secrets),
    });
    const sagaId = `secrets-in-def-${run}`;
    const def = { name: 'secrets-in-def', sagaId, steps: [echo('echo', '/echo')] };
    (def.steps[0]!.payload.body as Record<string, unknown>).note = `Bearer ${TOKEN}`;
    const err = await guarded.createSaga(def).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidDefinitionError);
    expect((err as Error).message).toContain(
      'field "payload.body.note": holds the value of a configured secret',
    );
    expect((err as Error).message).not.toContain(TOKEN);
    await expect(connected.client.workflow.getHandle(sagaId).describe()).rejects.toThrow();

    // A client without them: the payload codec masks the token before the start reaches history.
    const r = await sagas.executeSaga(def);
    expect(r.status.state).toBe('COMMITTED');
    expect(historyText(sagaId)).not.toContain(TOKEN);
    expect((await auditText(sagaId)).text).not.toContain(TOKEN);
  });

  it('the worker log never held the token', () => {
    expect(logs.length).toBeGreaterThan(0);
    const leaked = logs.filter((l) => secrets.some((s) => l.includes(s)));
    expect(leaked.map((l) => secrets.reduce((x, s) => x.split(s).join('<SECRET>'), l).slice(0, 300))).toEqual(
      [],
    );
  });
});
