/**
 * The codec server of `polysaga codec-server` (docs/security.md, "Codec server"): an HTTP server
 * speaking the Temporal remote codec protocol, so the Temporal Web UI and `temporal --codec-endpoint`
 * show decrypted payloads.
 *
 * - `POST /encode`, `POST /decode` (also under a namespace prefix, `/<namespace>/decode`, as the
 *   CLI's `--codec-endpoint` templating sends them): body and answer
 *   `{"payloads": [{"metadata": {"<key>": "<base64>"}, "data": "<base64>"}]}`.
 * - `/decode` runs the data converter's codecs in reverse (claim-check references are fetched
 *   from `polysaga_blobs`, then decrypted); `/encode` only encrypts.
 * - CORS for the Web UI's origin(s): preflight `OPTIONS` answered without a token; allowed
 *   headers `content-type`, `authorization`, `x-namespace`.
 * - An optional bearer token: without `Authorization: Bearer <token>`, 401.
 *
 * It never logs payloads or keys; errors name the key id at most.
 */
import { timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Payload, PayloadCodec } from '@temporalio/common';

/** Headers a browser may send to the codec server. */
export const CODEC_SERVER_ALLOWED_HEADERS = ['content-type', 'authorization', 'x-namespace'];
/** Requests larger than this are refused (413). */
export const CODEC_SERVER_MAX_BODY_BYTES = 64 * 1024 * 1024;

export interface CodecServerOptions {
  /** Codecs of `/encode`, applied in order. */
  encode: PayloadCodec[];
  /** Codecs of `/decode`, in encode order (applied in reverse, like a data converter). */
  decode: PayloadCodec[];
  /** Origins allowed by CORS, e.g. `http://127.0.0.1:8233` (`*` allows any). */
  origins: string[];
  /** When set, every POST needs `Authorization: Bearer <token>`. */
  token?: string | undefined;
  /** Called with one line per refused or failed request (never payload content). */
  log?: (line: string) => void;
}

/** The JSON form of a payload in the codec protocol. */
export interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** Converts a protocol payload (base64 fields) to a {@link Payload}; `at` names it in errors. */
export function payloadFromJson(p: unknown, at: string): Payload {
  if (typeof p !== 'object' || p === null || Array.isArray(p))
    throw new HttpError(400, `${at}: must be an object`);
  const { metadata, data } = p as JsonPayload;
  const out: Record<string, Uint8Array> = {};
  if (metadata !== undefined) {
    if (typeof metadata !== 'object' || metadata === null || Array.isArray(metadata))
      throw new HttpError(400, `${at}.metadata: must be an object of base64 strings`);
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new HttpError(400, `${at}.metadata.${k}: must be a base64 string`);
      out[k] = new Uint8Array(Buffer.from(v, 'base64'));
    }
  }
  if (data !== undefined && typeof data !== 'string')
    throw new HttpError(400, `${at}.data: must be a base64 string`);
  return { metadata: out, data: new Uint8Array(Buffer.from(data ?? '', 'base64')) };
}

/** Inverse of {@link payloadFromJson}. */
export function payloadToJson(p: Payload): JsonPayload {
  const metadata: Record<string, string> = {};
  for (const [k, v] of Object.entries(p.metadata ?? {}))
    if (v) metadata[k] = Buffer.from(v).toString('base64');
  return { metadata, data: Buffer.from(p.data ?? new Uint8Array()).toString('base64') };
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > CODEC_SERVER_MAX_BODY_BYTES) {
        reject(new HttpError(413, `request body over ${CODEC_SERVER_MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(.+)$/i.exec(header ?? '');
  if (!m?.[1]) return false;
  const a = Buffer.from(m[1].trim());
  const b = Buffer.from(token);
  return a.byteLength === b.byteLength && timingSafeEqual(a, b);
}

/** Creates (does not start) the codec server; call `listen(port, host)`. */
export function createCodecServer(options: CodecServerOptions): Server {
  const log = options.log ?? (() => undefined);
  const anyOrigin = options.origins.includes('*');

  const cors = (req: IncomingMessage, res: ServerResponse) => {
    const origin = req.headers.origin;
    res.setHeader('Vary', 'Origin');
    if (origin && (anyOrigin || options.origins.includes(origin))) {
      res.setHeader('Access-Control-Allow-Origin', origin);
      res.setHeader('Access-Control-Allow-Credentials', 'true');
      res.setHeader('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.setHeader('Access-Control-Allow-Headers', CODEC_SERVER_ALLOWED_HEADERS.join(', '));
      res.setHeader('Access-Control-Max-Age', '600');
    }
  };
  const send = (res: ServerResponse, status: number, body: unknown) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) });
    res.end(text);
  };

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    cors(req, res);
    const path = new URL(req.url ?? '/', 'http://codec').pathname.replace(/\/+$/, '');
    const route = path.endsWith('/encode') ? 'encode' : path.endsWith('/decode') ? 'decode' : undefined;
    if (!route) throw new HttpError(404, `no route ${path || '/'}: POST /encode or /decode`);
    if (req.method === 'OPTIONS') {
      res.writeHead(204);
      res.end();
      return;
    }
    if (req.method !== 'POST') throw new HttpError(405, `${req.method ?? '?'} ${path}: only POST`);
    if (options.token !== undefined && !tokenMatches(req.headers.authorization, options.token))
      throw new HttpError(401, 'missing or wrong Authorization: Bearer token');
    let body: unknown;
    try {
      body = JSON.parse((await readBody(req)).toString('utf8'));
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw new HttpError(400, 'the body is not JSON');
    }
    const list = (body as { payloads?: unknown } | null)?.payloads;
    if (!Array.isArray(list)) throw new HttpError(400, 'the body must be {"payloads": [...]}');
    let payloads = list.map((p, i) => payloadFromJson(p, `payloads[${i}]`));
    try {
      if (route === 'encode') for (const c of options.encode) payloads = await c.encode(payloads);
      else for (const c of [...options.decode].reverse()) payloads = await c.decode(payloads);
    } catch (err) {
      throw new HttpError(422, `${route}: ${(err as Error).message}`);
    }
    send(res, 200, { payloads: payloads.map(payloadToJson) });
  }

  return createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      const status = err instanceof HttpError ? err.status : 500;
      const message = err instanceof Error ? err.message : String(err);
      log(`${req.method ?? '?'} ${req.url ?? ''}: ${status} ${message}`);
      if (!res.headersSent) send(res, status, { error: message });
      else res.end();
    });
  });
}
