/**
 * Shared tools of the fault suite (test/faults): stopping and starting servers of the local
 * stack, a gate service (an HTTP step that waits until the test lets it go), a saga client, and
 * waiting for sagas to settle. The files of the `faults` project run one after the other
 * (vitest.config.ts), never beside the other projects (scripts/test.sh), because they stop
 * servers that everything else uses.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { connectTemporalClient, SagaClient, type ConnectedTemporalClient } from '../../src/client/index.js';
import type { ActivityTuning } from '../../src/saga/activity-options.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { startWorker } from '../helpers/cli.js';

const STACK = fileURLToPath(new URL('../../scripts/stack/stack.sh', import.meta.url));

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `stack.sh <action> <service>` with this process's environment (POLYSAGA_STACK_DIR, ports). */
export function stack(action: 'up' | 'down', service: string): Promise<void> {
  if (process.env.POLYSAGA_STACK === 'external')
    return Promise.reject(
      new Error(
        `this fault test stops and starts ${service} with scripts/stack/stack.sh, which cannot reach servers you run yourself (POLYSAGA_STACK=external)`,
      ),
    );
  return new Promise((resolve, reject) => {
    execFile('bash', [STACK, action, service], { timeout: 300_000 }, (err, _stdout, stderr) =>
      err ? reject(new Error(`stack.sh ${action} ${service} failed: ${stderr}`)) : resolve(),
    );
  });
}

/** A unique, identifier-safe suffix for this run's tables, labels and saga ids. */
export const runId = () => randomUUID().replace(/-/g, '').slice(0, 10);

/** A pool on the data/audit database that survives the server going away (errors are ignored). */
export function dataPool(config: Config): pg.Pool {
  const pool = new pg.Pool({ ...config.postgres, max: 3 });
  pool.on('error', () => undefined);
  return pool;
}

export interface GateRequest {
  method: string;
  path: string;
  idempotencyKey: string | undefined;
}

/**
 * An HTTP service whose `POST /gate/<name>` requests wait until {@link Gate.release}: sagas
 * park on such a step while the test breaks a server. Released requests (and any that arrive
 * later) answer `status` (200: the step succeeds; 409: it fails permanently, the saga unwinds).
 * `DELETE` requests (undos) answer 200 at once.
 */
export class Gate {
  readonly requests: GateRequest[] = [];
  private server: Server | undefined;
  private held: { name: string; res: ServerResponse }[] = [];
  private released = new Map<string, number>();
  private statusOf = new Map<string, number>();

  async start(): Promise<this> {
    this.server = createServer((req: IncomingMessage, res) => {
      req.resume();
      const path = req.url ?? '/';
      this.requests.push({
        method: req.method ?? '',
        path,
        idempotencyKey: req.headers['idempotency-key'] as string | undefined,
      });
      const name = path.replace(/^\/gate\//, '').split('/')[0] ?? '';
      const released = this.released.get(name);
      if (req.method !== 'POST') return this.answer(res, 200);
      if (released !== undefined) return this.answer(res, released);
      this.held.push({ name, res });
    });
    await new Promise<void>((r) => this.server!.listen(0, '127.0.0.1', r));
    return this;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`;
  }

  /** Requests waiting at gate `name` (distinct idempotency keys: a retried request counts once). */
  waiting(name: string): number {
    return new Set(
      this.requests
        .filter((r) => r.method === 'POST' && r.path.startsWith(`/gate/${name}`))
        .map((r) => r.idempotencyKey),
    ).size;
  }

  /** Lets the requests at gate `name` (and later ones) go with `status`. */
  release(name: string, status = 200): void {
    this.released.set(name, status);
    this.statusOf.set(name, status);
    const now = this.held.filter((h) => h.name === name);
    this.held = this.held.filter((h) => h.name !== name);
    for (const h of now) this.answer(h.res, status);
  }

  private answer(res: ServerResponse, status: number): void {
    if (res.writableEnded || res.destroyed) return;
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(status < 300 ? { ok: true } : { error: 'refused by the gate' }));
  }

  async stop(): Promise<void> {
    for (const h of this.held) this.answer(h.res, 503);
    this.held = [];
    this.server?.closeAllConnections();
    await new Promise((r) => this.server?.close(r));
  }
}

/**
 * A saga step that waits at gate `name` of the `gate` HTTP service. One attempt lasts at most
 * 5 s (the service timeout); it is retried without limit, so a saga waits as long as the test
 * holds the gate. A 409 from the gate is a permanent failure (never retried).
 */
export function gateStep(id: string, name: string, extra: Record<string, unknown> = {}) {
  return {
    id,
    backend: 'http',
    operation: 'request',
    payload: { service: 'gate', method: 'POST', path: `/gate/${name}`, body: {} },
    timeout: '5s',
    retry: { initialInterval: '500ms', maximumInterval: '2s', maximumAttempts: 0 },
    compensation: {
      operation: 'request',
      payload: { service: 'gate', method: 'DELETE', path: `/gate/${name}` },
    },
    ...extra,
  };
}

/** The environment of a worker (and CLI) of one test file: its own task queue, the gate service. */
export function workerEnv(taskQueue: string, gate?: Gate): Record<string, string> {
  return {
    TEMPORAL_TASK_QUEUE: taskQueue,
    ...(gate ? { HTTP_SERVICES: JSON.stringify({ gate: { url: gate.url, timeout: '5s' } }) } : {}),
  };
}

/** A `polysaga worker` child process (it must survive the faults; kill tests kill it). */
export const startCliWorker = startWorker;

export interface Sagas {
  client: SagaClient;
  connected: ConnectedTemporalClient;
  close(): Promise<void>;
}

/** A saga client on `taskQueue` (with optional retry tuning, see src/saga/activity-options.ts). */
export async function sagaClient(config: Config, taskQueue: string, tuning?: ActivityTuning): Promise<Sagas> {
  const connected = await connectTemporalClient(config);
  const client = new SagaClient({ client: connected.client, taskQueue, ...(tuning ? { tuning } : {}) });
  return { client, connected, close: () => connected.close() };
}

/** Polls `probe` until it returns a truthy value; throws naming `what` after `timeoutMs`. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 120_000,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${lastError ? ` (last error: ${(lastError as Error).message})` : ''}`,
      );
    await sleep(everyMs);
  }
}

const SETTLED = ['COMMITTED', 'ROLLED_BACK', 'FAILED', 'RESOLVED'];

/**
 * Waits until every saga is settled (COMMITTED, ROLLED_BACK, FAILED or RESOLVED) according to
 * its workflow (`getStatus`), and returns the states. Status errors while a server is still
 * coming back are retried.
 */
export async function waitSettled(
  sagas: SagaClient,
  ids: readonly string[],
  timeoutMs = 180_000,
): Promise<Record<string, string>> {
  const states: Record<string, string> = {};
  await until(
    `sagas to settle (${ids.length})`,
    async () => {
      for (const id of ids) {
        if (states[id] && SETTLED.includes(states[id]) && states[id] !== 'FAILED') continue;
        try {
          states[id] = (await sagas.getStatus(id)).state;
        } catch {
          states[id] = 'UNKNOWN';
        }
      }
      return ids.every((id) => SETTLED.includes(states[id] ?? '')) ? true : undefined;
    },
    timeoutMs,
    1000,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; states: ${JSON.stringify(states)}`);
  });
  return states;
}

export { loadConfig };
