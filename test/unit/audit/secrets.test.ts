/**
 * Secrets masked by value (pure parts): the SecretMasker on text, JSON values and errors, the
 * set of secret values derived from the configuration, the masking payload codec, and the
 * activity wrapper.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ApplicationFailure, type Payload } from '@temporalio/common';
import { describe, expect, it } from 'vitest';
import { MASK, SecretMasker, secretForms } from '../../../src/audit/redact.js';
import { maskActivities } from '../../../src/activities/secrets.js';
import { SecretMaskingCodec } from '../../../src/blobs/mask-codec.js';
import { loadConfig, maskableSecrets, redactConfig, SECRET_VARIABLES } from '../../../src/config/index.js';

const TOKEN = 'tok-9f3a1c2e7b';
const PASSWORD = 'p@ss w0rd/"x"';
const m = new SecretMasker([TOKEN, PASSWORD]);

describe('SecretMasker', () => {
  it('masks substrings in text: bearer headers, URLs with the (URL-encoded) password', () => {
    expect(m.text(`Bearer ${TOKEN}`)).toBe('Bearer ***');
    expect(m.text(`postgres://u:${encodeURIComponent(PASSWORD)}@h/db`)).toBe('postgres://u:***@h/db');
    expect(m.text(`${TOKEN}${TOKEN}`)).toBe('******');
    expect(m.text('nothing here')).toBe('nothing here');
  });

  it('masks strings and keys at any depth, without touching the input, and keeps unchanged values', () => {
    const input = {
      status: 200,
      body: { echoedToken: TOKEN, list: [{ deep: [`x ${TOKEN} y`] }], [TOKEN]: 1 },
      n: 12,
      ok: true,
      nothing: null,
    };
    const copy = structuredClone(input);
    expect(m.json(input)).toEqual({
      status: 200,
      body: { echoedToken: MASK, list: [{ deep: ['x *** y'] }], [MASK]: 1 },
      n: 12,
      ok: true,
      nothing: null,
    });
    expect(input).toEqual(copy);
    const clean = { a: { b: ['c'] } };
    expect(m.json(clean)).toBe(clean);
  });

  it('keeps a key named __proto__ an own property', () => {
    const input = JSON.parse(`{"__proto__": {"x": "${TOKEN}"}}`) as Record<string, unknown>;
    const out = m.json(input);
    expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(out, '__proto__')?.value).toEqual({ x: MASK });
  });

  it('masks an error in place: message, stack, details and every cause', () => {
    const root = new Error(`connect failed for ${PASSWORD}`);
    const err = ApplicationFailure.create({
      message: `GET svc/x → 500: {"echoedToken":"${TOKEN}"}`,
      type: 'polysaga.ClientError',
      nonRetryable: true,
      details: [{ token: TOKEN }],
      cause: root,
    });
    expect(m.error(err)).toBe(err);
    expect(err.message).toBe('GET svc/x → 500: {"echoedToken":"***"}');
    expect(err.stack).not.toContain(TOKEN);
    expect(err.details).toEqual([{ token: MASK }]);
    expect(root.message).toBe('connect failed for ***');
    expect(root.stack).not.toContain(PASSWORD);
    expect(err.nonRetryable).toBe(true);
    expect(m.error(`x ${TOKEN}`)).toBe('x ***');
  });

  it('ignores values shorter than 8 characters; a key ring masks each key', () => {
    expect(new SecretMasker(['short']).active).toBe(false);
    expect(secretForms('k1:AAAAAAAAAAAA,k2:BBBBBBBBBBBB')).toEqual(
      expect.arrayContaining(['AAAAAAAAAAAA', 'BBBBBBBBBBBB']),
    );
    const ring = new SecretMasker(['k1:AAAAAAAAAAAA,k2:BBBBBBBBBBBB']);
    expect(ring.text('key BBBBBBBBBBBB')).toBe('key ***');
  });
});

const codecKey = Buffer.alloc(32, 7).toString('base64');

describe('maskableSecrets', () => {
  it('takes every set variable of SECRET_VARIABLES', () => {
    const env: Record<string, string> = {
      POSTGRES_PASSWORD: 'pg-secret-1',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 's3-secret-1',
      HTTP_INTERNAL_TOKEN: 'tok-secret-1',
      TEMPORAL_API_KEY: 'api-secret-1',
      NEO4J_PASSWORD: 'neo-secret-1',
      QDRANT_API_KEY: 'qdrant-secret-1',
      POSTGRES_STEP_PASSWORD: 'step-secret-1',
      POSTGRES_AUDIT_PASSWORD: 'audit-secret-1',
      POLYSAGA_CODEC_KEYS: `k1:${codecKey}`,
      POLYSAGA_CODEC_SERVER_TOKEN: 'codec-server-token-1',
      TEMPORAL_TLS_CLIENT_KEY_DATA: 'tls-client-key-secret-1',
      TEMPORAL_TLS_CLIENT_CERT_DATA: 'a client certificate (not a secret)',
    };
    const { values, unmasked } = maskableSecrets(loadConfig(env));
    // Every secret variable, plus the codec key material on its own.
    expect(values.sort()).toEqual([...SECRET_VARIABLES.map((v) => env[v]), codecKey].sort());
    expect(unmasked).toEqual([]);
  });

  it('masks codec keys read from POLYSAGA_CODEC_KEYS_FILE', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-keys-'));
    const file = join(dir, 'keys');
    writeFileSync(file, `k1:${codecKey}\n`);
    const { values } = maskableSecrets(loadConfig({ POLYSAGA_CODEC_KEYS_FILE: file }));
    expect(values).toContain(codecKey);
  });

  it('leaves out (and names) short secrets and secrets equal to a non-secret setting', () => {
    const c = loadConfig({
      POSTGRES_PASSWORD: 'polysaga',
      NEO4J_PASSWORD: 'short',
      HTTP_INTERNAL_TOKEN: 'tok-12345678',
    });
    expect(maskableSecrets(c)).toEqual({
      values: ['tok-12345678'],
      unmasked: ['POSTGRES_PASSWORD', 'NEO4J_PASSWORD'],
    });
    // Also for a configuration built by hand (no configuredValues).
    const { configuredValues: _, ...byHand } = c;
    expect(maskableSecrets(byHand).values).toEqual(['tok-12345678']);
  });

  it('the printable configuration holds no secret value', () => {
    const c = loadConfig({ HTTP_INTERNAL_TOKEN: 'tok-12345678' });
    expect(JSON.stringify(redactConfig(c))).not.toContain('tok-12345678');
  });
});

describe('SecretMaskingCodec', () => {
  const codec = new SecretMaskingCodec(m);
  const json = (v: unknown): Payload => ({
    metadata: { encoding: new TextEncoder().encode('json/plain') },
    data: new TextEncoder().encode(JSON.stringify(v)),
  });
  const text = (p: Payload | undefined) => new TextDecoder().decode(p?.data ?? new Uint8Array());

  it('masks secrets in JSON payloads on encode (also when JSON escapes them), passes others unchanged', async () => {
    const clean = json({ a: 1 });
    const binary: Payload = {
      metadata: { encoding: new TextEncoder().encode('binary/plain') },
      data: new TextEncoder().encode(TOKEN),
    };
    const [a, b, c, d] = await codec.encode([
      json({ t: `Bearer ${TOKEN}` }),
      json({ p: PASSWORD }),
      clean,
      binary,
    ]);
    expect(JSON.parse(text(a))).toEqual({ t: 'Bearer ***' });
    expect(JSON.parse(text(b))).toEqual({ p: MASK });
    expect(c).toBe(clean);
    expect(d).toBe(binary);
    expect(await codec.decode([a!])).toEqual([a]);
  });
});

describe('maskActivities', () => {
  it('masks results and thrown errors, keeping the activity names', async () => {
    const acts = maskActivities(
      {
        ok: async () => Promise.resolve({ body: { echoedToken: TOKEN } }),
        fail: async () => Promise.reject(ApplicationFailure.nonRetryable(`bad ${TOKEN}`, 'X')),
      },
      m,
    );
    expect(Object.keys(acts)).toEqual(['ok', 'fail']);
    await expect(acts.ok()).resolves.toEqual({ body: { echoedToken: MASK } });
    await expect(acts.fail()).rejects.toMatchObject({ message: 'bad ***', type: 'X', nonRetryable: true });
  });
});

describe('a definition holding a configured secret', () => {
  it('is refused by validation, naming the field and not the value', async () => {
    const { validateDefinition } = await import('../../../src/saga/validate.js');
    const { builtinCatalog } = await import('../../../src/backends/catalog.js');
    const { formatIssue } = await import('../../../src/saga/errors.js');
    const def = {
      name: 'x',
      steps: [{ id: 'k', backend: 'kv', operation: 'set', payload: { key: 'a', value: `Bearer ${TOKEN}` } }],
    };
    const r = validateDefinition(def, builtinCatalog, { secrets: m });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.issues.map(formatIssue)).toEqual([
        expect.stringContaining(
          'step "k" (steps[0]) field "payload.value": holds the value of a configured secret',
        ),
      ]);
      expect(JSON.stringify(r.issues)).not.toContain(TOKEN);
    }
    expect(validateDefinition(def, builtinCatalog).ok).toBe(true);
  });
});
