/**
 * ============================================================================================
 *  TEST DOUBLE — NOT QDRANT.
 *  A tiny in-memory stand-in for the Qdrant REST API, used only because no real Qdrant server
 *  can be installed on the machines that build this project (no Docker, no binary in any
 *  registry). It serves exactly the endpoints that @qdrant/js-client-rest calls for polysaga's
 *  vector adapter, keeps points in memory, and marks every response with `x-test-double: qdrant`.
 *  The same contract suite also runs against a real Qdrant whenever QDRANT_URL is set.
 * ============================================================================================
 *
 *   GET  /healthz                                       liveness (stack.sh health check)
 *   GET  /collections/{name}                            collection info (404 if missing)
 *   GET  /collections/{name}/exists                     { exists }
 *   PUT  /collections/{name}                            create { vectors: { size, distance } } (409 if it exists)
 *   PUT  /collections/{name}/points                     upsert { points: [{ id, vector, payload }] }
 *   POST /collections/{name}/points                     retrieve { ids, with_payload, with_vector }
 *   POST /collections/{name}/points/delete              delete { points: ids } | { filter }
 *   POST /collections/{name}/points/scroll              scroll { filter, limit, offset, with_payload, with_vector }
 *
 * Filters: `must` of `{ key, match: { value } }` conditions (the only form the adapter sends).
 * Ids: unsigned integers or UUID strings, like Qdrant. Vector sizes are checked (400), like Qdrant.
 *
 * Run: node --import tsx test/doubles/qdrant-rest-double.ts --port 56333
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';

type Payload = Record<string, unknown>;
interface Point {
  id: string | number;
  vector: number[];
  payload: Payload;
}
interface Collection {
  size: number;
  distance: string;
  points: Map<string, Point>;
}
interface Condition {
  key: string;
  match?: { value?: unknown };
}
interface Filter {
  must?: Condition[];
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json',
    'x-test-double': 'qdrant',
    'content-length': Buffer.byteLength(text),
  });
  res.end(text);
}
const ok = (res: ServerResponse, result: unknown) => send(res, 200, { result, status: 'ok', time: 0 });
const fail = (res: ServerResponse, status: number, error: string) =>
  send(res, status, { status: { error }, time: 0 });

async function readJson(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text ? (JSON.parse(text) as Record<string, unknown>) : {};
}

function validId(id: unknown): id is string | number {
  return (
    (typeof id === 'number' && Number.isInteger(id) && id >= 0) || (typeof id === 'string' && UUID.test(id))
  );
}
const idKey = (id: string | number) => (typeof id === 'string' ? id.toLowerCase() : String(id));

function matches(p: Point, filter: Filter | undefined): boolean {
  for (const c of filter?.must ?? []) {
    if (p.payload[c.key] !== c.match?.value) return false;
  }
  return true;
}

function view(p: Point, withPayload: unknown, withVector: unknown) {
  return {
    id: p.id,
    version: 0,
    payload: withPayload === false ? null : p.payload,
    vector: withVector === true ? p.vector : null,
  };
}

/** The request handler over one in-memory store (exported for tests that want no socket). */
export function createQdrantDoubleHandler() {
  const collections = new Map<string, Collection>();
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://double');
    const parts = url.pathname.split('/').filter(Boolean).map(decodeURIComponent);
    const method = req.method ?? 'GET';
    try {
      if (method === 'GET' && url.pathname === '/healthz')
        return send(res, 200, { status: 'ok', double: 'qdrant' });
      if (parts[0] !== 'collections' || !parts[1])
        return fail(res, 404, `test double: no route ${method} ${url.pathname}`);
      const name = parts[1];
      const rest = parts.slice(2).join('/');
      const col = collections.get(name);
      if (rest === '' && method === 'PUT') {
        if (col) return fail(res, 409, `Wrong input: Collection \`${name}\` already exists!`);
        const body = await readJson(req);
        const vectors = body.vectors as { size?: number; distance?: string } | undefined;
        if (!vectors || typeof vectors.size !== 'number')
          return fail(res, 400, 'test double: vectors.size required');
        collections.set(name, {
          size: vectors.size,
          distance: vectors.distance ?? 'Cosine',
          points: new Map(),
        });
        return ok(res, true);
      }
      if (rest === 'exists' && method === 'GET') return ok(res, { exists: col !== undefined });
      if (!col) return fail(res, 404, `Not found: Collection \`${name}\` doesn't exist!`);
      if (rest === '' && method === 'GET') {
        return ok(res, {
          status: 'green',
          points_count: col.points.size,
          config: { params: { vectors: { size: col.size, distance: col.distance } } },
        });
      }
      const body = await readJson(req);
      if (rest === 'points' && method === 'PUT') {
        const points = body.points as Point[] | undefined;
        if (!Array.isArray(points)) return fail(res, 400, 'test double: points required');
        for (const p of points) {
          if (!validId(p.id))
            return fail(
              res,
              400,
              `Unable to parse point id ${JSON.stringify(p.id)}: must be an unsigned integer or a UUID`,
            );
          if (!Array.isArray(p.vector) || p.vector.length !== col.size) {
            return fail(
              res,
              400,
              `Wrong input: Vector dimension error: expected dim: ${col.size}, got ${Array.isArray(p.vector) ? p.vector.length : 0}`,
            );
          }
        }
        for (const p of points)
          col.points.set(idKey(p.id), { id: p.id, vector: [...p.vector], payload: { ...(p.payload ?? {}) } });
        return ok(res, { operation_id: 0, status: 'completed' });
      }
      if (rest === 'points' && method === 'POST') {
        const ids = (body.ids as (string | number)[] | undefined) ?? [];
        const found = ids.map((id) => col.points.get(idKey(id))).filter((p): p is Point => p !== undefined);
        return ok(
          res,
          found.map((p) => view(p, body.with_payload, body.with_vector)),
        );
      }
      if (rest === 'points/delete' && method === 'POST') {
        if (Array.isArray(body.points)) {
          for (const id of body.points as (string | number)[]) col.points.delete(idKey(id));
        } else if (body.filter) {
          for (const [k, p] of col.points) if (matches(p, body.filter)) col.points.delete(k);
        } else return fail(res, 400, 'test double: points or filter required');
        return ok(res, { operation_id: 0, status: 'completed' });
      }
      if (rest === 'points/scroll' && method === 'POST') {
        const limit = typeof body.limit === 'number' ? body.limit : 10;
        const all = [...col.points.values()]
          .filter((p) => matches(p, body.filter as Filter | undefined))
          .sort((a, b) => idKey(a.id).localeCompare(idKey(b.id)));
        const start =
          body.offset === undefined || body.offset === null
            ? 0
            : all.findIndex((p) => idKey(p.id) === idKey(body.offset as string));
        const page = all.slice(Math.max(start, 0), Math.max(start, 0) + limit);
        const next = all[Math.max(start, 0) + limit];
        return ok(res, {
          points: page.map((p) => view(p, body.with_payload, body.with_vector)),
          next_page_offset: next ? next.id : null,
        });
      }
      return fail(res, 404, `test double: no route ${method} ${url.pathname}`);
    } catch (err) {
      return fail(res, 400, `test double: ${(err as Error).message}`);
    }
  };
}

/** Starts the double on 127.0.0.1:`port` (0: any free port). */
export async function startQdrantDouble(
  port = 0,
): Promise<{ url: string; close: () => Promise<void>; server: Server }> {
  const handler = createQdrantDoubleHandler();
  const server = createServer((req, res) => void handler(req, res));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => resolve());
  });
  const addr = server.address();
  const actual = typeof addr === 'object' && addr ? addr.port : port;
  return {
    url: `http://127.0.0.1:${actual}`,
    server,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const i = process.argv.indexOf('--port');
  const port = Number(i >= 0 ? process.argv[i + 1] : (process.env.QDRANT_DOUBLE_PORT ?? 56333));
  const { url } = await startQdrantDouble(port);
  console.log(`[qdrant-rest-double] TEST DOUBLE of the Qdrant REST API listening on ${url}`);
}
