/**
 * Configuration of the payload encryption keys (POLYSAGA_CODEC_KEYS, POLYSAGA_CODEC_KEYS_FILE):
 * parsing, errors that name the entry and key id but never the key, and redaction.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactConfig, SECRET_VARIABLES } from '../../src/config/index.js';

const noFile = { POLYSAGA_CONFIG: undefined } as const;
const b64 = (n = 32) => randomBytes(n).toString('base64');

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig({ ...noFile, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error('expected a ConfigError');
}

describe('POLYSAGA_CODEC_KEYS', () => {
  it('no key: encryption off', () => {
    expect(loadConfig({ ...noFile }).codec).toEqual({ keys: [], server: { port: 8081 } });
  });

  it('parses id:base64 entries, newest first', () => {
    const [a, b] = [b64(), b64()];
    const c = loadConfig({ ...noFile, POLYSAGA_CODEC_KEYS: ` new:${a} , old-1:${b}` });
    expect(c.codec.source).toBe('POLYSAGA_CODEC_KEYS');
    expect(c.codec.keys).toEqual([
      { id: 'new', key: a },
      { id: 'old-1', key: b },
    ]);
  });

  it('reports bad entries by position and key id, never printing the key', () => {
    const short = b64(16);
    const good = b64();
    const cases: [string, RegExp][] = [
      [`k1:${good},k2:${short}`, /entry 2 \(key id "k2"\): the key must be 32 bytes \(AES-256\), it is 16/],
      [`k1:${good},${good}`, /entry 2 must look like id:base64key/],
      [`k1:${good},k1:${b64()}`, /entry 2 \(key id "k1"\): the key id is used twice/],
      [`k1:not base64!`, /entry 1 \(key id "k1"\): the key is not base64/],
      [`bad id:${good}`, /entry 1: key id must be/],
      [' , ', /holds no key/],
    ];
    for (const [value, re] of cases) {
      const e = configError({ POLYSAGA_CODEC_KEYS: value });
      expect(e.variables).toEqual(['POLYSAGA_CODEC_KEYS']);
      expect(e.message).toMatch(re);
      expect(e.message).not.toContain(good);
      expect(e.message).not.toContain(short);
    }
  });

  it('reads POLYSAGA_CODEC_KEYS_FILE (one key per line, # comments), and refuses both at once', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-codec-'));
    const file = join(dir, 'keys');
    const [a, b] = [b64(), b64()];
    writeFileSync(file, `# newest first, then older ones\nlocal-2:${a}\nlocal-1:${b}\n`, { mode: 0o600 });
    const c = loadConfig({ ...noFile, POLYSAGA_CODEC_KEYS_FILE: file });
    expect(c.codec.keys.map((k) => k.id)).toEqual(['local-2', 'local-1']);
    expect(c.codec.source).toBe('POLYSAGA_CODEC_KEYS_FILE');
    const missing = configError({ POLYSAGA_CODEC_KEYS_FILE: join(dir, 'nope') });
    expect(missing.variables).toEqual(['POLYSAGA_CODEC_KEYS_FILE']);
    expect(missing.message).toContain('ENOENT');
    writeFileSync(file, `x:${b64(31)}\n`);
    const bad = configError({ POLYSAGA_CODEC_KEYS_FILE: file });
    expect(bad.variables).toEqual(['POLYSAGA_CODEC_KEYS_FILE']);
    expect(bad.message).toContain('key id "x"');
    const both = configError({ POLYSAGA_CODEC_KEYS_FILE: file, POLYSAGA_CODEC_KEYS: `a:${a}` });
    expect(both.variables).toEqual(['POLYSAGA_CODEC_KEYS', 'POLYSAGA_CODEC_KEYS_FILE']);
  });

  it('is a secret: masked by redactConfig and refused in the config file', () => {
    expect(SECRET_VARIABLES).toContain('POLYSAGA_CODEC_KEYS');
    const a = b64();
    const token = 'codec-server-token-0123456789';
    const c = loadConfig({ ...noFile, POLYSAGA_CODEC_KEYS: `k:${a}`, POLYSAGA_CODEC_SERVER_TOKEN: token });
    expect(c.codec.server.token).toBe(token);
    const printed = JSON.stringify(redactConfig(c));
    expect(printed).not.toContain(a);
    expect(printed).not.toContain(token);
    expect(redactConfig(c).codec.keys).toEqual([{ id: 'k', key: '***' }]);
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-codec-'));
    const file = join(dir, 'server_config.json');
    writeFileSync(file, JSON.stringify({ POLYSAGA_CODEC_KEYS: `k:${a}` }));
    const e = configError({ POLYSAGA_CONFIG: file });
    expect(e.message).toContain('POLYSAGA_CODEC_KEYS is a secret');
    expect(e.message).not.toContain(a);
  });
});
