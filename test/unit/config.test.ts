import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseDurationMs, redactConfig } from '../../src/config/index.js';

const noFile = { POLYSAGA_CONFIG: undefined } as const;

function expectConfigError(env: NodeJS.ProcessEnv, variable: string): ConfigError {
  try {
    loadConfig({ ...noFile, ...env });
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.variables).toContain(variable);
    expect(e.message).toContain(variable);
    return e;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives working defaults for the local stack', () => {
    const c = loadConfig({});
    expect(c.temporal.address).toBe('127.0.0.1:7233');
    expect(c.temporal.taskQueue).toBe('polysaga');
    expect(c.postgres.port).toBe(55432);
    expect(c.projectPrefix).toBe('polysaga');
    expect(c.env).toBe('prod');
    expect(c.retry.maxRetries).toBe(3);
  });

  it('derives the scope from PROJECT_PREFIX and ENV: the defaults keep every name as it was', () => {
    const d = loadConfig({ ...noFile });
    expect(d.scope).toBe('');
    expect(d.temporal.taskQueue).toBe('polysaga');
    expect(d.kvPrefix).toBe('polysaga');
    const dev = loadConfig({ ...noFile, ENV: 'dev' });
    expect(dev.scope).toBe('polysaga-dev');
    expect(dev.temporal.taskQueue).toBe('polysaga-dev');
    expect(dev.kvPrefix).toBe('polysaga:dev');
    const acme = loadConfig({ ...noFile, PROJECT_PREFIX: 'acme', ENV: 'staging' });
    expect([acme.scope, acme.temporal.taskQueue, acme.kvPrefix]).toEqual([
      'acme-staging',
      'acme-staging',
      'acme:staging',
    ]);
    // An explicit TEMPORAL_TASK_QUEUE wins over the scope's default.
    expect(loadConfig({ ...noFile, ENV: 'dev', TEMPORAL_TASK_QUEUE: 'q1' }).temporal.taskQueue).toBe('q1');
  });

  it('names each malformed variable', () => {
    expectConfigError({ POSTGRES_PORT: 'abc' }, 'POSTGRES_PORT');
    expectConfigError({ NEO4J_URL: 'http://x' }, 'NEO4J_URL');
    expectConfigError({ ENV: 'production' }, 'ENV');
    expectConfigError({ PROJECT_PREFIX: 'Bad Prefix' }, 'PROJECT_PREFIX');
    expectConfigError({ TEMPORAL_TLS: 'maybe' }, 'TEMPORAL_TLS');
    expectConfigError({ HTTP_SERVICES: '{"files":{"url":"not a url"}}' }, 'HTTP_SERVICES');
    expectConfigError({ S3_ACCESS_KEY_ID: 'only-one-half' }, 'S3_SECRET_ACCESS_KEY');
  });

  it('reads the claim-check threshold and refuses one out of range, naming POLYSAGA_PAYLOAD_THRESHOLD', () => {
    expect(loadConfig({}).payloads.thresholdBytes).toBe(131_072);
    expect(loadConfig({ POLYSAGA_PAYLOAD_THRESHOLD: '65536' }).payloads.thresholdBytes).toBe(65_536);
    expect(
      expectConfigError({ POLYSAGA_PAYLOAD_THRESHOLD: '100' }, 'POLYSAGA_PAYLOAD_THRESHOLD').message,
    ).toMatch(/at least 1024 bytes/);
    expect(
      expectConfigError({ POLYSAGA_PAYLOAD_THRESHOLD: '4194304' }, 'POLYSAGA_PAYLOAD_THRESHOLD').message,
    ).toMatch(/at most 1048576 bytes/);
    expectConfigError({ POLYSAGA_PAYLOAD_THRESHOLD: '128KiB' }, 'POLYSAGA_PAYLOAD_THRESHOLD');
  });

  it('lists every bad variable at once', () => {
    const e = expectConfigError({ POSTGRES_PORT: '0', REDIS_URL: 'http://nope' }, 'POSTGRES_PORT');
    expect(e.variables).toContain('REDIS_URL');
  });

  it('lets SAGA_REL_HOST override the PostgreSQL host (first seed)', () => {
    expect(loadConfig({ POSTGRES_HOST: 'a', SAGA_REL_HOST: 'b' }).postgres.host).toBe('b');
  });

  it('reads a JSON config file, the environment winning, and refuses secrets in it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-config-'));
    const file = join(dir, 'server_config.json');
    writeFileSync(file, JSON.stringify({ PROJECT_PREFIX: 'vcc', ENV: 'dev', POSTGRES_PORT: 6000 }));
    const c = loadConfig({ POLYSAGA_CONFIG: file, ENV: 'staging' });
    expect(c.projectPrefix).toBe('vcc');
    expect(c.postgres.port).toBe(6000);
    expect(c.env).toBe('staging');
    writeFileSync(file, JSON.stringify({ POSTGRES_PASSWORD: 'x' }));
    expect(() => loadConfig({ POLYSAGA_CONFIG: file })).toThrow(/POSTGRES_PASSWORD is a secret/);
    expect(() => loadConfig({ POLYSAGA_CONFIG: join(dir, 'missing.json') })).toThrow(/POLYSAGA_CONFIG/);
  });

  it('reads POLYSAGA_PLUGINS: comma-separated in the environment, a JSON array or a string in the config file', () => {
    expect(loadConfig({ ...noFile, POLYSAGA_PLUGINS: ' ./a.js, plugins/b.ts ,' }).plugins).toEqual([
      './a.js',
      'plugins/b.ts',
    ]);
    expect(loadConfig(noFile).plugins).toEqual([]);
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-config-'));
    const file = join(dir, 'server_config.json');
    writeFileSync(file, JSON.stringify({ POLYSAGA_PLUGINS: ['./a.js', 'plugins/b.ts'] }));
    expect(loadConfig({ POLYSAGA_CONFIG: file }).plugins).toEqual(['./a.js', 'plugins/b.ts']);
    writeFileSync(file, JSON.stringify({ POLYSAGA_PLUGINS: './a.js,./c.js' }));
    expect(loadConfig({ POLYSAGA_CONFIG: file }).plugins).toEqual(['./a.js', './c.js']);
    // The environment wins over the file.
    expect(loadConfig({ POLYSAGA_CONFIG: file, POLYSAGA_PLUGINS: './env.js' }).plugins).toEqual(['./env.js']);
    writeFileSync(file, JSON.stringify({ POLYSAGA_PLUGINS: ['./a.js', 7] }));
    expect(() => loadConfig({ POLYSAGA_CONFIG: file })).toThrow(
      /POLYSAGA_PLUGINS\[1\] must be a path \(a string without commas\)/,
    );
  });

  it('parses HTTP services with per-service timeouts', () => {
    const c = loadConfig({ HTTP_SERVICES: '{"files":{"url":"http://127.0.0.1:1","timeout":"10s"}}' });
    expect(c.http.services.files).toEqual({ url: 'http://127.0.0.1:1', timeoutMs: 10_000 });
  });

  it('masks every secret in the printable copy', () => {
    const c = loadConfig({
      POSTGRES_PASSWORD: 'pg-secret',
      S3_ACCESS_KEY_ID: 'id',
      S3_SECRET_ACCESS_KEY: 's3-secret',
      HTTP_INTERNAL_TOKEN: 'tok-secret',
      TEMPORAL_API_KEY: 'api-secret',
      NEO4J_PASSWORD: 'neo-secret',
    });
    const text = JSON.stringify(redactConfig(c));
    for (const s of ['pg-secret', 's3-secret', 'tok-secret', 'api-secret', 'neo-secret'])
      expect(text).not.toContain(s);
    expect(c.temporal.tls).toBe(true); // an API key implies TLS (Temporal Cloud)
  });

  it('parses durations', () => {
    expect(parseDurationMs('500ms')).toBe(500);
    expect(parseDurationMs('15s')).toBe(15_000);
    expect(parseDurationMs('2m')).toBe(120_000);
    expect(() => parseDurationMs('soon')).toThrow();
  });
});
