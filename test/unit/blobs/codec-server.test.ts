/**
 * The codec server (src/client/codec-server.ts) in-process, with the encryption codec only (no
 * database): protocol round trip, bearer token, CORS, and errors that name the field.
 */
import { randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EncryptionCodec } from '../../../src/blobs/index.js';
import { defaultOrigins } from '../../../src/cli/commands/codec-server.js';
import { createCodecServer, payloadFromJson } from '../../../src/client/codec-server.js';

const codec = new EncryptionCodec([{ id: 'unit', key: randomBytes(32) }]);
const token = 'unit-token-0123456789abcdef';
const logged: string[] = [];
const server = createCodecServer({
  encode: [codec],
  decode: [codec],
  origins: ['http://127.0.0.1:8233'],
  token,
  log: (l) => logged.push(l),
});
let url: string;

beforeAll(async () => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

const b64 = (s: string) => Buffer.from(s).toString('base64');
const post = (path: string, body: unknown, auth: string | null = `Bearer ${token}`) =>
  fetch(url + path, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(auth ? { authorization: auth } : {}) },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });

describe('codec server', () => {
  it('encodes and decodes in the Temporal codec protocol', async () => {
    const plain = { metadata: { encoding: b64('json/plain') }, data: b64('{"secret":"s3cr3t"}') };
    const enc = (await (await post('/encode', { payloads: [plain] })).json()) as {
      payloads: { metadata: Record<string, string>; data: string }[];
    };
    expect(Buffer.from(enc.payloads[0]!.metadata.encoding!, 'base64').toString()).toBe('binary/encrypted');
    expect(Buffer.from(enc.payloads[0]!.data, 'base64').toString('latin1')).not.toContain('s3cr3t');
    const dec = await post('/my-namespace/decode', enc);
    expect(dec.status).toBe(200);
    expect(dec.headers.get('content-type')).toBe('application/json');
    expect(await dec.json()).toEqual({ payloads: [plain] });
  });

  it('refuses a missing or wrong token with 401, and never logs it', async () => {
    expect((await post('/decode', { payloads: [] }, null)).status).toBe(401);
    expect((await post('/decode', { payloads: [] }, 'Bearer wrong')).status).toBe(401);
    expect((await post('/decode', { payloads: [] }, token)).status).toBe(401);
    expect(logged.join('\n')).not.toContain(token);
  });

  it('answers errors naming the field or the key id', async () => {
    const bad = async (body: unknown) => {
      const r = await post('/decode', body);
      return [r.status, ((await r.json()) as { error: string }).error] as const;
    };
    expect(await bad('not json')).toEqual([400, 'the body is not JSON']);
    expect(await bad({ payload: [] })).toEqual([400, 'the body must be {"payloads": [...]}']);
    expect(await bad({ payloads: [{ metadata: { encoding: 5 } }] })).toEqual([
      400,
      'payloads[0].metadata.encoding: must be a base64 string',
    ]);
    const other = await new EncryptionCodec([{ id: 'elsewhere', key: randomBytes(32) }]).encode([
      { metadata: {}, data: new Uint8Array([1]) },
    ]);
    const [status, error] = await bad({
      payloads: other.map((p) => ({
        metadata: Object.fromEntries(
          Object.entries(p.metadata!).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
        data: Buffer.from(p.data!).toString('base64'),
      })),
    });
    expect(status).toBe(422);
    expect(error).toContain('key id "elsewhere"');
  });

  it('allows the configured origin only, and answers preflight without a token', async () => {
    const pre = (origin: string) =>
      fetch(`${url}/decode`, {
        method: 'OPTIONS',
        headers: { origin, 'access-control-request-method': 'POST' },
      });
    const ok = await pre('http://127.0.0.1:8233');
    expect(ok.status).toBe(204);
    expect(ok.headers.get('access-control-allow-origin')).toBe('http://127.0.0.1:8233');
    expect(ok.headers.get('access-control-allow-methods')).toBe('POST, OPTIONS');
    expect((await pre('http://localhost:9999')).headers.get('access-control-allow-origin')).toBeNull();
  });

  it('defaults to the Web UI origin and its localhost twin', () => {
    expect(defaultOrigins('http://127.0.0.1:8233')).toEqual([
      'http://127.0.0.1:8233',
      'http://localhost:8233',
    ]);
    expect(defaultOrigins('https://temporal.example.com/ui')).toEqual(['https://temporal.example.com']);
    expect(() => payloadFromJson([], 'payloads[3]')).toThrow('payloads[3]: must be an object');
  });
});
