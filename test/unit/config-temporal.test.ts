/**
 * Temporal's environment configuration (src/config/temporal.ts): TEMPORAL_* variables, TLS and
 * mTLS files, temporal.toml profiles, and the connection options built from them
 * (src/client/connect.ts). Errors name the variable, file or profile field, never a key.
 */
import { chmodSync, mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { temporalConnectionOptions } from '../../src/client/connect.js';
import { ConfigError, loadConfig, maskableSecrets, redactConfig } from '../../src/config/index.js';

const noFile = { POLYSAGA_CONFIG: undefined } as const;
const load = (env: NodeJS.ProcessEnv) => loadConfig({ ...noFile, ...env });

let dir: string;
const pem = (label: string, body: string) => `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
const CA = pem('CERTIFICATE', 'Y2EtY2VydA==');
const CRT = pem('CERTIFICATE', 'Y2xpZW50LWNlcnQ=');
// Stands for key material: it must never appear in an error or a printed configuration.
const KEY_BODY = 'S3Y3M4T3R14L-never-printed';
const KEY = pem('PRIVATE KEY', KEY_BODY);
let ca: string, crt: string, key: string, toml: string;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'polysaga-envconfig-'));
  ca = join(dir, 'ca.pem');
  crt = join(dir, 'client.pem');
  key = join(dir, 'client.key');
  writeFileSync(ca, CA);
  writeFileSync(crt, CRT);
  writeFileSync(key, KEY, { mode: 0o600 });
  toml = join(dir, 'temporal.toml');
  writeFileSync(
    toml,
    [
      '[profile.default]',
      'address = "127.0.0.1:7233"',
      'namespace = "dev"',
      '',
      '[profile.prod]',
      'address = "temporal.example.internal:7233"',
      'namespace = "payments"',
      '[profile.prod.tls]',
      `server_ca_cert_path = "${ca}"`,
      `client_cert_path = "${crt}"`,
      `client_key_path = "${key}"`,
      'server_name = "temporal.example.internal"',
      '[profile.prod.grpc_meta]',
      'x-team = "payments"',
      '',
      '[profile.cloud]',
      'address = "payments.a1b2c.tmprl.cloud:7233"',
      'namespace = "payments.a1b2c"',
      `api_key = "${KEY_BODY}"`,
      '',
    ].join('\n'),
  );
});

function configError(fn: () => unknown): ConfigError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    const e = err as ConfigError;
    expect(e.message).not.toContain(KEY_BODY);
    return e;
  }
  throw new Error('expected a ConfigError');
}

describe("polysaga's own variables (unchanged)", () => {
  it('defaults to the local stack without TLS', () => {
    const c = load({});
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'default', tls: false });
    expect(c.temporal.profile).toBeUndefined();
    expect(temporalConnectionOptions(c)).toEqual({ address: '127.0.0.1:7233', tls: false });
  });

  it('reads TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TLS (true/1/yes) and TEMPORAL_API_KEY', () => {
    for (const v of ['true', '1', 'yes']) expect(load({ TEMPORAL_TLS: v }).temporal.tls).toBe(true);
    for (const v of ['false', '0', 'no']) expect(load({ TEMPORAL_TLS: v }).temporal.tls).toBe(false);
    const c = load({ TEMPORAL_ADDRESS: 'h:7000', TEMPORAL_NAMESPACE: 'ns', TEMPORAL_API_KEY: 'k-123' });
    expect(c.temporal).toMatchObject({ address: 'h:7000', namespace: 'ns', tls: true, apiKey: 'k-123' });
    expect(temporalConnectionOptions(c)).toEqual({ address: 'h:7000', tls: true, apiKey: 'k-123' });
  });

  it('TEMPORAL_TLS=false keeps an API key from turning TLS on (tls: false is passed explicitly)', () => {
    const c = load({ TEMPORAL_API_KEY: 'k-123', TEMPORAL_TLS: 'false' });
    expect(temporalConnectionOptions(c)).toEqual({ address: '127.0.0.1:7233', tls: false, apiKey: 'k-123' });
  });

  it('sends TEMPORAL_GRPC_META_* as gRPC headers and masks their values when printed', () => {
    const c = load({ TEMPORAL_GRPC_META_X_TENANT: 'acme' });
    expect(temporalConnectionOptions(c).metadata).toEqual({ 'x-tenant': 'acme' });
    expect(redactConfig(c).temporal.grpcMeta).toEqual({ 'x-tenant': '***' });
  });
});

describe('TLS and mTLS from the environment', () => {
  it('a server CA file and a server name turn TLS on and reach the connection options', () => {
    const c = load({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca, TEMPORAL_TLS_SERVER_NAME: 'temporal.internal' });
    expect(c.temporal.tls).toBe(true);
    const o = temporalConnectionOptions(c);
    expect(o.tls).toEqual({
      serverNameOverride: 'temporal.internal',
      serverRootCACertificate: Buffer.from(CA),
    });
  });

  it('a client certificate and key give the mTLS pair', () => {
    const c = load({
      TEMPORAL_ADDRESS: 'temporal.internal:7233',
      TEMPORAL_TLS_CLIENT_CERT_PATH: crt,
      TEMPORAL_TLS_CLIENT_KEY_PATH: key,
    });
    const o = temporalConnectionOptions(c);
    expect(o.tls).toEqual({ clientCertPair: { crt: Buffer.from(CRT), key: Buffer.from(KEY) } });
    // The configuration keeps the paths, never the key.
    expect(JSON.stringify(redactConfig(c))).not.toContain(KEY_BODY);
    expect(JSON.stringify(c)).not.toContain(KEY_BODY);
  });

  it('PEM text in *_DATA works too; the key is a secret: masked when printed, refused in the JSON file', () => {
    const c = load({ TEMPORAL_TLS_CLIENT_CERT_DATA: CRT, TEMPORAL_TLS_CLIENT_KEY_DATA: KEY });
    expect(temporalConnectionOptions(c).tls).toEqual({
      clientCertPair: { crt: Buffer.from(CRT), key: Buffer.from(KEY) },
    });
    expect(JSON.stringify(redactConfig(c))).not.toContain(KEY_BODY);
    const file = join(dir, 'server_config.json');
    writeFileSync(file, JSON.stringify({ TEMPORAL_TLS_CLIENT_KEY_DATA: KEY }));
    expect(configError(() => loadConfig({ POLYSAGA_CONFIG: file })).message).toMatch(
      /TEMPORAL_TLS_CLIENT_KEY_DATA is a secret/,
    );
  });

  it('TEMPORAL_TLS=false turns TLS off even with files set', () => {
    const c = load({ TEMPORAL_TLS: 'false', TEMPORAL_TLS_SERVER_CA_CERT_PATH: ca });
    expect(temporalConnectionOptions(c).tls).toBe(false);
  });
});

describe('temporal.toml profiles', () => {
  it('reads the default profile of TEMPORAL_CONFIG_FILE', () => {
    const c = load({ TEMPORAL_CONFIG_FILE: toml });
    expect(c.temporal).toMatchObject({ address: '127.0.0.1:7233', namespace: 'dev', tls: false });
    expect(c.temporal.profile).toEqual({ name: 'default', file: toml });
  });

  it('TEMPORAL_PROFILE picks another profile: address, namespace, TLS files, server name, headers', () => {
    const c = load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'prod' });
    expect(c.temporal).toMatchObject({
      address: 'temporal.example.internal:7233',
      namespace: 'payments',
      tls: true,
      profile: { name: 'prod', file: toml },
    });
    expect(temporalConnectionOptions(c)).toEqual({
      address: 'temporal.example.internal:7233',
      tls: {
        serverNameOverride: 'temporal.example.internal',
        serverRootCACertificate: Buffer.from(CA),
        clientCertPair: { crt: Buffer.from(CRT), key: Buffer.from(KEY) },
      },
      metadata: { 'x-team': 'payments' },
    });
  });

  it('an API key in a profile turns TLS on and is masked when printed', () => {
    const c = load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'cloud' });
    expect(c.temporal).toMatchObject({
      address: 'payments.a1b2c.tmprl.cloud:7233',
      namespace: 'payments.a1b2c',
      tls: true,
      apiKey: KEY_BODY,
    });
    expect(JSON.stringify(redactConfig(c))).not.toContain(KEY_BODY);
    // and masked by value wherever it would appear (docs/security.md), like TEMPORAL_API_KEY
    expect(maskableSecrets(c).values).toContain(KEY_BODY);
  });

  it('the variables override the profile', () => {
    const c = load({
      TEMPORAL_CONFIG_FILE: toml,
      TEMPORAL_PROFILE: 'prod',
      TEMPORAL_ADDRESS: '10.0.0.5:7233',
      TEMPORAL_NAMESPACE: 'payments-staging',
      TEMPORAL_TLS_SERVER_NAME: 'staging.internal',
    });
    expect(c.temporal).toMatchObject({ address: '10.0.0.5:7233', namespace: 'payments-staging' });
    expect(c.temporal.tlsConfig?.serverName).toBe('staging.internal');
    expect(c.temporal.tlsConfig?.clientKey).toEqual({
      origin: `${toml} [profile.prod.tls] client_key_path`,
      path: key,
    });
  });

  it('finds ~/.config/temporalio/temporal.toml (or $XDG_CONFIG_HOME/temporalio) as the CLI does', () => {
    const home = mkdtempSync(join(tmpdir(), 'polysaga-home-'));
    mkdirSync(join(home, '.config', 'temporalio'), { recursive: true });
    writeFileSync(
      join(home, '.config', 'temporalio', 'temporal.toml'),
      '[profile.default]\nnamespace = "from-home"\n',
    );
    expect(load({ HOME: home }).temporal.namespace).toBe('from-home');
    const xdg = mkdtempSync(join(tmpdir(), 'polysaga-xdg-'));
    mkdirSync(join(xdg, 'temporalio'));
    writeFileSync(join(xdg, 'temporalio', 'temporal.toml'), '[profile.default]\nnamespace = "from-xdg"\n');
    expect(load({ HOME: home, XDG_CONFIG_HOME: xdg }).temporal.namespace).toBe('from-xdg');
    // No file at the default place: the defaults.
    expect(load({ HOME: join(home, 'nowhere') }).temporal.namespace).toBe('default');
  });
});

describe('errors name the variable, file or profile field, never key material', () => {
  it('a missing certificate or key file', () => {
    const e = configError(() => load({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: join(dir, 'missing-ca.pem') }));
    expect(e.variables).toEqual(['TEMPORAL_TLS_SERVER_CA_CERT_PATH']);
    expect(e.message).toContain(
      `TEMPORAL_TLS_SERVER_CA_CERT_PATH: cannot read ${join(dir, 'missing-ca.pem')} (ENOENT)`,
    );
    const k = configError(() =>
      load({ TEMPORAL_TLS_CLIENT_CERT_PATH: crt, TEMPORAL_TLS_CLIENT_KEY_PATH: join(dir, 'nope.key') }),
    );
    expect(k.message).toContain('TEMPORAL_TLS_CLIENT_KEY_PATH: cannot read');
    expect(
      configError(() => load({ TEMPORAL_TLS_CLIENT_KEY_PATH: dir, TEMPORAL_TLS_CLIENT_CERT_PATH: crt }))
        .message,
    ).toContain(`TEMPORAL_TLS_CLIENT_KEY_PATH: ${dir} is not a file`);
  });

  it('a missing file named by a profile: the file and the field', () => {
    const bad = join(dir, 'bad-profile.toml');
    writeFileSync(bad, `[profile.default.tls]\nserver_ca_cert_path = "${join(dir, 'gone.pem')}"\n`);
    const e = configError(() => load({ TEMPORAL_CONFIG_FILE: bad }));
    expect(e.message).toContain(
      `${bad} [profile.default.tls] server_ca_cert_path: cannot read ${join(dir, 'gone.pem')}`,
    );
    expect(e.variables).toEqual(['TEMPORAL_CONFIG_FILE']);
  });

  it('a file that becomes unreadable or is not PEM, when connecting', () => {
    const notPem = join(dir, 'not-pem.key');
    writeFileSync(notPem, KEY_BODY);
    const c = load({ TEMPORAL_TLS_CLIENT_CERT_PATH: crt, TEMPORAL_TLS_CLIENT_KEY_PATH: notPem });
    const e = configError(() => temporalConnectionOptions(c));
    expect(e.message).toContain(`TEMPORAL_TLS_CLIENT_KEY_PATH: ${notPem} is not PEM`);
    const moving = join(dir, 'moving.pem');
    writeFileSync(moving, CA);
    const c2 = load({ TEMPORAL_TLS_SERVER_CA_CERT_PATH: moving });
    chmodSync(moving, 0o600);
    writeFileSync(moving, ''); // emptied after start-up
    expect(configError(() => temporalConnectionOptions(c2)).message).toContain('is not PEM');
  });

  it('a certificate without its key (and the other way round)', () => {
    expect(configError(() => load({ TEMPORAL_TLS_CLIENT_CERT_PATH: crt })).message).toMatch(
      /TEMPORAL_TLS_CLIENT_CERT_PATH is set without a client key/,
    );
    expect(configError(() => load({ TEMPORAL_TLS_CLIENT_KEY_PATH: key })).message).toMatch(
      /TEMPORAL_TLS_CLIENT_KEY_PATH is set without a client certificate/,
    );
  });

  it('a missing TEMPORAL_CONFIG_FILE, an unknown profile, a profile without a file', () => {
    const missing = join(dir, 'missing.toml');
    expect(configError(() => load({ TEMPORAL_CONFIG_FILE: missing })).message).toContain(
      `TEMPORAL_CONFIG_FILE: cannot read ${missing} (ENOENT)`,
    );
    const e = configError(() => load({ TEMPORAL_CONFIG_FILE: toml, TEMPORAL_PROFILE: 'staging' }));
    expect(e.variables).toEqual(['TEMPORAL_PROFILE']);
    expect(e.message).toContain(`no profile "staging" in ${toml} (it has: default, prod, cloud)`);
    expect(configError(() => load({ TEMPORAL_PROFILE: 'prod' })).message).toMatch(
      /TEMPORAL_PROFILE: .*no temporal.toml/,
    );
  });

  it('a malformed temporal.toml: the line, not its text (it may hold an api_key)', () => {
    const bad = join(dir, 'broken.toml');
    writeFileSync(bad, `[profile.default]\napi_key = "${KEY_BODY}\n`);
    const e = configError(() => load({ TEMPORAL_CONFIG_FILE: bad }));
    expect(e.message).toMatch(new RegExp(`${bad}: not a valid temporal.toml at line 2`));
  });

  it('both a path and PEM text for the same file', () => {
    const e = configError(() =>
      load({ TEMPORAL_TLS_CLIENT_KEY_PATH: key, TEMPORAL_TLS_CLIENT_KEY_DATA: KEY }),
    );
    expect(e.message).toMatch(/client_key_path and client_key_data/);
  });

  it('TEMPORAL_TLS_DISABLE_HOST_VERIFICATION=true is refused with what to do instead', () => {
    expect(configError(() => load({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'true' })).message).toMatch(
      /TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported.*TEMPORAL_TLS_SERVER_NAME/,
    );
    expect(load({ TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: 'false' }).temporal.tls).toBe(false);
  });
});

describe('a temporal.toml without profiles', () => {
  it('an empty file is no profile (envconfig alone fails on it)', () => {
    const empty = join(dir, 'empty.toml');
    writeFileSync(empty, '');
    expect(load({ TEMPORAL_CONFIG_FILE: empty }).temporal).toMatchObject({
      address: '127.0.0.1:7233',
      tls: false,
    });
    expect(load({ TEMPORAL_CONFIG_FILE: empty }).temporal.profile).toBeUndefined();
    expect(configError(() => load({ TEMPORAL_CONFIG_FILE: empty, TEMPORAL_PROFILE: 'x' })).message).toContain(
      `no profile "x" in ${empty} (it has none)`,
    );
  });
});
