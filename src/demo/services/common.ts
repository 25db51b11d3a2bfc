/**
 * Shared plumbing of the example services: JSON responses, the internal auth check
 * (X-User-ID + X-INTERNAL-TOKEN) and Idempotency-Key replay.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Reply {
  status: number;
  body: unknown;
  contentType?: string;
}

export function send(res: ServerResponse, reply: Reply, extraHeaders: Record<string, string> = {}): void {
  const isText = reply.contentType !== undefined && !reply.contentType.includes('json');
  const text = isText ? String(reply.body) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? 'application/json',
    'content-length': Buffer.byteLength(text),
    ...extraHeaders,
  });
  res.end(text);
}

export async function readBody(req: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Checks X-INTERNAL-TOKEN (constant-time) and X-User-ID. Returns an error reply or the user id. */
export function authenticate(req: IncomingMessage, token: string): Reply | { userId: string } {
  const given = req.headers['x-internal-token'];
  const a = Buffer.from(typeof given === 'string' ? given : '');
  const b = Buffer.from(token);
  if (a.length !== b.length || !timingSafeEqual(a, b))
    return { status: 401, body: { status: 'error', error: 'invalid X-INTERNAL-TOKEN' } };
  const userId = req.headers['x-user-id'];
  if (typeof userId !== 'string' || userId === '')
    return { status: 400, body: { status: 'error', error: 'X-User-ID header required' } };
  return { userId };
}

/**
 * Idempotency-Key replay: the first response for a key is stored and replayed for every retry
 * with the same key and the same request; the same key with a different request is a 422.
 * In memory (the examples are single-process); a restart forgets the keys.
 */
export class IdempotencyCache {
  private readonly entries = new Map<string, { fingerprint: string; reply: Reply }>();
  private readonly inflight = new Map<string, Promise<Reply>>();

  async run(
    key: string | undefined,
    fingerprint: string,
    fn: () => Promise<Reply>,
  ): Promise<Reply & { replayed?: boolean }> {
    if (!key) return fn();
    const fp = createHash('sha256').update(fingerprint).digest('hex');
    const hit = this.entries.get(key);
    if (hit) {
      if (hit.fingerprint !== fp)
        return {
          status: 422,
          body: { status: 'error', error: 'Idempotency-Key reused for a different request' },
        };
      return { ...hit.reply, replayed: true };
    }
    const running = this.inflight.get(key);
    if (running) return { ...(await running), replayed: true };
    const p = fn();
    this.inflight.set(key, p);
    try {
      const reply = await p;
      // Server errors are not cached, so that a retry can succeed.
      if (reply.status < 500) this.entries.set(key, { fingerprint: fp, reply });
      return reply;
    } finally {
      this.inflight.delete(key);
    }
  }
}

export function argValue(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export const SAFE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

/** Handles one authenticated request (`userId` from X-User-ID). */
export type RequestHandler = (
  method: string,
  path: string,
  rawBody: string,
  userId: string,
) => Promise<Reply>;

export interface ServeOptions {
  /** 0 or unset: any free port. */
  port?: number;
  internalToken: string;
  /** The body of a 500 reply for an unexpected error. */
  errorBody: (message: string) => unknown;
}

/**
 * Serves `handle` on 127.0.0.1: `/healthz` without auth, every other route behind
 * {@link authenticate}; writes (not GET) go through an {@link IdempotencyCache} keyed by the
 * Idempotency-Key header, and a replayed reply carries `idempotent-replayed: true`.
 */
export async function serve(
  opts: ServeOptions,
  handle: RequestHandler,
): Promise<{ url: string; close: () => Promise<void> }> {
  const idem = new IdempotencyCache();
  const server = createServer((req, res) => {
    void (async () => {
      const method = req.method ?? 'GET';
      const path = new URL(req.url ?? '/', 'http://x').pathname;
      if (path === '/healthz') return send(res, { status: 200, body: { status: 'ok' } });
      const auth = authenticate(req, opts.internalToken);
      if ('status' in auth) return send(res, auth);
      const rawBody = await readBody(req);
      const key = req.headers['idempotency-key'];
      const reply =
        method === 'GET'
          ? await handle(method, path, rawBody, auth.userId)
          : await idem.run(typeof key === 'string' ? key : undefined, `${method} ${path} ${rawBody}`, () =>
              handle(method, path, rawBody, auth.userId),
            );
      send(res, reply, 'replayed' in reply && reply.replayed ? { 'idempotent-replayed': 'true' } : {});
    })().catch((err: unknown) => send(res, { status: 500, body: opts.errorBody((err as Error).message) }));
  });
  await new Promise<void>((r, j) => {
    server.once('error', j);
    server.listen(opts.port ?? 0, '127.0.0.1', () => r());
  });
  const addr = server.address();
  const port = typeof addr === 'object' && addr ? addr.port : 0;
  return { url: `http://127.0.0.1:${port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}
