/**
 * Encrypted payloads end to end (issue 9 item 1), on the stack's Temporal dev server, with the
 * key the local stack makes (`.stack/codec-key`, POLYSAGA_CODEC_KEYS_FILE):
 * - a saga whose step payloads, a big (over the threshold) value and an overwritten key's old
 *   value all carry a marker string rolls back (its last step fails);
 * - `temporal workflow show --output json` (the history as Temporal stores it) holds the marker
 *   nowhere, not even base64-encoded, and every failure message reads "Encoded failure";
 * - the same history's payloads POSTed to `polysaga codec-server` /decode (a real child process,
 *   bearer token, claim-check references resolved from polysaga_blobs) give the marker back;
 * - no row of polysaga_blobs of the saga (the big payload, the before-image) holds the marker,
 *   and the compensation restored the old value from the encrypted before-image.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { connectTemporalClient, SagaClient, type ConnectedTemporalClient } from '../../src/client/index.js';
import { loadConfig } from '../../src/config/index.js';
import { createSagaWorker, type SagaWorker } from '../../src/workers/index.js';
import { POLYSAGA_BIN } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const taskQueue = `polysaga-e2e-codec-${run}`;
const MARKER = `codec-marker-${randomUUID()}`;
const BIG_MARKER = `big-${MARKER}`;
const OLD_MARKER = `old-${MARKER}`;
const token = `codec-token-${randomUUID()}`;
const table = `e2e_codec_${run}`;
const sagaId = `e2e-codec-${run}`;
const kvKey = `e2e:codec:${run}`;
const bigKey = `e2e:codec:big:${run}`;

let worker: SagaWorker;
let running: Promise<void>;
let connected: ConnectedTemporalClient;
let codecServer: ChildProcess;
let codecUrl: string;
let rawHistory: string;

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/** Every protocol payload (`{metadata, data}`) in a JSON value. */
function payloadsIn(v: unknown, out: JsonPayload[] = []): JsonPayload[] {
  if (Array.isArray(v)) v.forEach((x) => payloadsIn(x, out));
  else if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    if (typeof o.metadata === 'object' && o.metadata !== null && 'data' in o) out.push(o);
    else Object.values(o).forEach((x) => payloadsIn(x, out));
  }
  return out;
}

/** Every string of a JSON value, as it is and base64-decoded. */
function readableTexts(v: unknown, out: string[] = []): string[] {
  if (typeof v === 'string') out.push(v, Buffer.from(v, 'base64').toString('latin1'));
  else if (Array.isArray(v)) v.forEach((x) => readableTexts(x, out));
  else if (v !== null && typeof v === 'object')
    for (const [k, x] of Object.entries(v)) {
      out.push(k);
      readableTexts(x, out);
    }
  return out;
}

const b64text = (s: string | undefined) => Buffer.from(s ?? '', 'base64').toString('utf8');

async function post(path: string, body: unknown, auth = `Bearer ${token}`): Promise<Response> {
  return fetch(`${codecUrl}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: JSON.stringify(body),
  });
}

beforeAll(async () => {
  expect(config.codec.keys.length, 'the local stack configures a codec key').toBeGreaterThan(0);
  worker = await createSagaWorker({ config, taskQueue });
  running = worker.run();
  connected = await connectTemporalClient(config, { pool: worker.resources.pool });
  await worker.resources.pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, note text NOT NULL)`);
  await worker.resources.redis.set(kvKey, OLD_MARKER);

  codecServer = spawn(POLYSAGA_BIN, ['codec-server', '--port', '0'], {
    env: { ...process.env, POLYSAGA_CODEC_SERVER_TOKEN: token },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  codecUrl = await new Promise<string>((resolve, reject) => {
    let err = '';
    codecServer.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      const m = /listening on (http:\/\/\S+)/.exec(err);
      if (m?.[1]) resolve(m[1]);
    });
    codecServer.once('exit', (code) => reject(new Error(`codec-server exited with ${code}: ${err}`)));
  });
});

afterAll(async () => {
  codecServer?.kill('SIGTERM');
  await worker?.resources.redis.del([kvKey, bigKey]).catch(() => undefined);
  await worker?.resources.pool.query(`DROP TABLE IF EXISTS ${table}`).catch(() => undefined);
  await connected?.close();
  await worker?.shutdown();
  await running?.catch(() => undefined);
});

describe('encrypted payloads', () => {
  it('a saga carrying a marker rolls back, restoring the old value from its encrypted before-image', async () => {
    const sagas = new SagaClient({ client: connected.client, taskQueue });
    const big = `${BIG_MARKER}:${'x'.repeat(config.payloads.thresholdBytes + 1024)}`;
    const r = await sagas.executeSaga({
      name: 'e2e-codec',
      sagaId,
      steps: [
        {
          id: 'row',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: 'a', note: MARKER } },
        },
        { id: 'kv', backend: 'kv', operation: 'set', payload: { key: kvKey, value: `new-${MARKER}` } },
        { id: 'big', backend: 'kv', operation: 'set', payload: { key: bigKey, value: big } },
        // Fails for good: the primary key exists.
        {
          id: 'dup',
          backend: 'postgres',
          operation: 'insert',
          payload: { table, values: { id: 'a', note: MARKER } },
        },
      ],
    });
    expect(r.status.state).toBe('ROLLED_BACK');
    expect(await worker.resources.redis.get(kvKey)).toBe(OLD_MARKER);
    expect(await worker.resources.redis.exists(bigKey)).toBe(0);
    expect((await worker.resources.pool.query(`SELECT 1 FROM ${table}`)).rowCount).toBe(0);
  });

  it('the raw history (temporal workflow show --output json) holds the marker nowhere', () => {
    const bin = process.env.POLYSAGA_TEMPORAL_BIN;
    expect(bin, 'POLYSAGA_TEMPORAL_BIN (stack.sh env)').toBeTruthy();
    const env = { ...process.env };
    delete env.TEMPORAL_CODEC_ENDPOINT;
    const out = spawnSync(
      bin!,
      [
        'workflow',
        'show',
        '--workflow-id',
        sagaId,
        '--output',
        'json',
        '--address',
        config.temporal.address,
        '--namespace',
        config.temporal.namespace,
      ],
      { encoding: 'utf8', env, maxBuffer: 64 * 1024 * 1024 },
    );
    expect(out.status, out.stderr).toBe(0);
    rawHistory = out.stdout;
    const history = JSON.parse(rawHistory) as { events: Record<string, unknown>[] };
    expect(history.events.length).toBeGreaterThan(10);
    expect(rawHistory).not.toContain(MARKER);
    const texts = readableTexts(history);
    expect(texts.filter((t) => t.includes(MARKER))).toEqual([]);
    // Every payload is encrypted or a claim-check reference (to an encrypted blob), except the
    // search attributes and the SDK's marker bookkeeping (patch ids, local activity seq numbers),
    // which Temporal must read itself (docs/security.md, "What is not encrypted").
    const inner = JSON.parse(rawHistory, (key, v: unknown) =>
      key === 'searchAttributes' || key === 'details' ? undefined : v,
    ) as unknown;
    const encodings = new Set(payloadsIn(inner).map((p) => b64text(p.metadata?.encoding)));
    expect([...encodings].sort()).toEqual(['binary/encrypted', 'polysaga/claim-check']);
    const bookkeeping = payloadsIn(history)
      .map((p) => b64text(p.metadata?.encoding))
      .filter((e) => e !== 'binary/encrypted' && e !== 'polysaga/claim-check');
    expect(new Set(bookkeeping)).toEqual(new Set(['json/plain']));
    // Failure messages and stack traces are encoded (and so encrypted) too.
    const failures: { message?: string }[] = [];
    const walk = (v: unknown) => {
      if (Array.isArray(v)) v.forEach(walk);
      else if (v !== null && typeof v === 'object')
        for (const [k, x] of Object.entries(v)) {
          if (k === 'failure' || k === 'cause') failures.push(x as { message?: string });
          walk(x);
        }
    };
    walk(history);
    expect(failures.length).toBeGreaterThan(0);
    expect(new Set(failures.map((f) => f.message))).toEqual(new Set(['Encoded failure']));
  });

  it('the codec server decodes the same payloads back, the big one from polysaga_blobs', async () => {
    const payloads = payloadsIn(JSON.parse(rawHistory));
    expect((await post('/decode', { payloads }, '')).status).toBe(401);
    const res = await post(`/${config.temporal.namespace}/decode`, { payloads });
    expect(res.status).toBe(200);
    const decoded = ((await res.json()) as { payloads: JsonPayload[] }).payloads;
    expect(decoded).toHaveLength(payloads.length);
    const texts = decoded.map((p) => b64text(p.data));
    expect(texts.some((t) => t.includes(`"note":"${MARKER}"`))).toBe(true);
    expect(texts.some((t) => t.includes(BIG_MARKER))).toBe(true);
    const left = decoded.map((p) => b64text(p.metadata?.encoding));
    expect(left.filter((e) => e === 'binary/encrypted' || e === 'polysaga/claim-check')).toEqual([]);
    // The failure's encoded attributes: the backend's error text.
    expect(texts.some((t) => t.includes('"message"') && t.includes('stack_trace'))).toBe(true);
    // Round trip through /encode: encrypted again, decodes to the same payload.
    const first = decoded[0]!;
    const enc = (await (await post('/encode', { payloads: [first] })).json()) as { payloads: JsonPayload[] };
    expect(b64text(enc.payloads[0]!.metadata?.encoding)).toBe('binary/encrypted');
    const back = (await (await post('/decode', enc)).json()) as { payloads: JsonPayload[] };
    expect(back.payloads[0]).toEqual(first);
  });

  it('answers the Web UI preflight for its origin only', async () => {
    const pre = await fetch(`${codecUrl}/decode`, {
      method: 'OPTIONS',
      headers: {
        origin: 'http://127.0.0.1:8233',
        'access-control-request-method': 'POST',
        'access-control-request-headers': 'content-type,x-namespace',
      },
    });
    expect(pre.status).toBe(204);
    expect(pre.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    expect(pre.headers.get('access-control-allow-headers')).toBe('content-type, authorization, x-namespace');
    const other = await fetch(`${codecUrl}/decode`, {
      method: 'OPTIONS',
      headers: { origin: 'http://evil.example', 'access-control-request-method': 'POST' },
    });
    expect(other.headers.get('access-control-allow-origin')).toBeNull();
    expect((await fetch(`${codecUrl}/decode`)).status).toBe(405);
    expect((await post('/nope', { payloads: [] })).status).toBe(404);
    expect((await post('/decode', { nope: 1 })).status).toBe(400);
  });

  it('no blob of the saga in polysaga_blobs holds the marker', async () => {
    const rows = await worker.resources.pool.query<{ key: string; bytes: Buffer }>(
      'SELECT key, bytes FROM polysaga_blobs WHERE saga_id = $1 ORDER BY key',
      [sagaId],
    );
    const keys = rows.rows.map((r) => r.key);
    expect(keys).toContain(`before/${sagaId}:kv`);
    expect(keys.some((k) => k.startsWith('payload/'))).toBe(true);
    for (const r of rows.rows) {
      expect(r.bytes.includes(MARKER), r.key).toBe(false);
      expect(r.bytes.toString('latin1')).not.toContain('json/plain');
    }
  });
});
