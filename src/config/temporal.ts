/**
 * Where Temporal is and how to reach it, read the way the `temporal` CLI and Temporal's SDKs read
 * it (Temporal's environment configuration, `@temporalio/envconfig`): a profile of a
 * `temporal.toml` file (`TEMPORAL_CONFIG_FILE`, else `~/.config/temporalio/temporal.toml`;
 * profile `TEMPORAL_PROFILE`, else `default`), overridden by the `TEMPORAL_*` variables.
 * docs/deployment.md shows it for Temporal Cloud and a self-hosted cluster.
 *
 * The settings hold file paths, never key material: the files are checked here (so a wrong path
 * stops the program at start-up, naming the variable or profile field) and read by
 * `temporalConnectionOptions` (src/client/connect.ts) when connecting.
 */
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { platform } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { loadClientConfig, loadClientConfigProfile, type ClientConfigProfile } from '@temporalio/envconfig';
import { ConfigError } from './index.js';

/** A PEM certificate or key: a file, or the PEM text itself; `origin` names where it was set. */
export type PemSource = { origin: string; path: string } | { origin: string; data: string };

/** TLS details beyond on/off: the server's CA and name, the client's certificate pair (mTLS). */
export interface TemporalTlsConfig {
  /** Name checked against the server's certificate (and sent as SNI) instead of the address's host. */
  serverName?: string;
  /** CA that signed the server's certificate; unset: the system's trusted CAs. */
  serverCaCert?: PemSource;
  /** Client certificate and key, for mTLS; both or neither. */
  clientCert?: PemSource;
  clientKey?: PemSource;
}

/** The Temporal connection part of the configuration. */
export interface TemporalSettings {
  address: string;
  namespace: string;
  /** Connect with TLS: `TEMPORAL_TLS`, any TLS file or setting, or an API key (unless `TEMPORAL_TLS=false`). */
  tls: boolean;
  /** Secret. */
  apiKey?: string;
  /** Server CA, server name and client certificate pair, when any is set (only with `tls`). */
  tlsConfig?: TemporalTlsConfig;
  /** gRPC headers sent with every call (`TEMPORAL_GRPC_META_<NAME>` or the profile's `grpc_meta`). */
  grpcMeta?: Record<string, string>;
  /** The `temporal.toml` profile that was read, if a file was found. */
  profile?: { name: string; file: string };
}

/** Variables of Temporal's environment configuration that polysaga passes on (its own schema's names). */
export const TEMPORAL_ENV_VARIABLES = [
  'TEMPORAL_ADDRESS',
  'TEMPORAL_NAMESPACE',
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS',
  'TEMPORAL_TLS_CLIENT_CERT_PATH',
  'TEMPORAL_TLS_CLIENT_CERT_DATA',
  'TEMPORAL_TLS_CLIENT_KEY_PATH',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'TEMPORAL_TLS_SERVER_CA_CERT_PATH',
  'TEMPORAL_TLS_SERVER_CA_CERT_DATA',
  'TEMPORAL_TLS_SERVER_NAME',
  'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION',
  'TEMPORAL_CONFIG_FILE',
  'TEMPORAL_PROFILE',
] as const;

const DEFAULT_ADDRESS = '127.0.0.1:7233';
const DEFAULT_NAMESPACE = 'default';
const DEFAULT_PROFILE = 'default';

const fail = (message: string, variables: string[]): never => {
  throw new ConfigError(`invalid configuration: ${message}`, variables);
};

/**
 * The default `temporal.toml`, as Temporal's SDKs and CLI find it: `<user config dir>/temporalio/
 * temporal.toml` (`$XDG_CONFIG_HOME` or `~/.config` on Linux, `~/Library/Application Support`
 * on macOS, `%APPDATA%` on Windows).
 */
export function defaultTemporalConfigFile(env: NodeJS.ProcessEnv): string | undefined {
  let dir: string | undefined;
  switch (platform()) {
    case 'win32':
      dir = env.APPDATA || undefined;
      break;
    case 'darwin':
      dir = env.HOME ? join(env.HOME, 'Library', 'Application Support') : undefined;
      break;
    default:
      if (env.XDG_CONFIG_HOME) dir = isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : undefined;
      else dir = env.HOME ? join(env.HOME, '.config') : undefined;
  }
  return dir === undefined ? undefined : join(dir, 'temporalio', 'temporal.toml');
}

const asEnvBool = (v: string | undefined) =>
  v === undefined ? undefined : ['true', '1', 'yes'].includes(v.toLowerCase()) ? 'true' : 'false';

/**
 * Reads the Temporal settings: polysaga's variables (`vars`: the environment merged with the
 * JSON config file, already validated) over the `temporal.toml` profile over the defaults
 * (`127.0.0.1:7233`, namespace `default`, no TLS). `env` gives the rest of the process
 * environment (`HOME`, `XDG_CONFIG_HOME`, `TEMPORAL_GRPC_META_*`).
 * @throws ConfigError naming the variable, file or profile field that is wrong; never a key.
 */
export function loadTemporalSettings(
  vars: Partial<Record<(typeof TEMPORAL_ENV_VARIABLES)[number], string>>,
  env: NodeJS.ProcessEnv,
): TemporalSettings {
  const provider: Record<string, string> = {};
  for (const name of ['HOME', 'XDG_CONFIG_HOME', 'APPDATA'])
    if (env[name] !== undefined) provider[name] = env[name];
  for (const [name, value] of Object.entries(env))
    if (name.startsWith('TEMPORAL_GRPC_META_') && value !== undefined) provider[name] = value;
  for (const name of TEMPORAL_ENV_VARIABLES) {
    const v = vars[name];
    // Host verification is answered here: envconfig would turn TLS on for `=false` too.
    if (v === undefined || v === '' || name === 'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION') continue;
    provider[name] = name === 'TEMPORAL_TLS' ? asEnvBool(v)! : v;
  }

  if (asEnvBool(vars.TEMPORAL_TLS_DISABLE_HOST_VERIFICATION) === 'true') {
    fail(
      'TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: not supported by the Temporal TypeScript SDK polysaga uses; ' +
        "set TEMPORAL_TLS_SERVER_NAME to a name in the server's certificate instead",
      ['TEMPORAL_TLS_DISABLE_HOST_VERIFICATION'],
    );
  }

  // The file: read here so every error names it (envconfig would skip a missing explicit file).
  const explicitFile = provider.TEMPORAL_CONFIG_FILE;
  const file = explicitFile ?? defaultTemporalConfigFile(provider);
  let toml: string | undefined;
  if (file !== undefined) {
    try {
      toml = readFileSync(file, 'utf8');
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      if (explicitFile !== undefined || code !== 'ENOENT')
        fail(`TEMPORAL_CONFIG_FILE: cannot read ${file} (${code})`, ['TEMPORAL_CONFIG_FILE']);
    }
  }
  const fileFound = toml !== undefined;
  let names: string[] = [];
  if (toml !== undefined) {
    try {
      names = Object.keys(loadClientConfig({ configSource: { data: toml } }).profiles);
    } catch (err) {
      const e = err as Error & { line?: number; column?: number };
      if (e.line === undefined && e instanceof TypeError) {
        // Valid TOML without any [profile.*] table (an empty file, say): envconfig 1.24 fails
        // on it (reading its profiles); it holds no profile.
        toml = undefined;
      } else {
        // smol-toml's message quotes the lines around the error: keep only its first line (no api_key).
        const where = e.line !== undefined ? ` at line ${e.line}, column ${e.column}` : '';
        fail(`${file}: not a valid temporal.toml${where}: ${e.message.split('\n')[0]}`, [
          'TEMPORAL_CONFIG_FILE',
        ]);
      }
    }
  }
  const profileName = provider.TEMPORAL_PROFILE;
  if (profileName !== undefined && !names.includes(profileName)) {
    fail(
      fileFound
        ? `TEMPORAL_PROFILE: no profile "${profileName}" in ${file}` +
            (names.length ? ` (it has: ${names.join(', ')})` : ' (it has none)')
        : `TEMPORAL_PROFILE: profile "${profileName}" asked for, but there is no temporal.toml` +
            (file ? ` at ${file}` : '') +
            ' (set TEMPORAL_CONFIG_FILE)',
      ['TEMPORAL_PROFILE'],
    );
  }

  let profile: ClientConfigProfile;
  try {
    profile = loadClientConfigProfile({
      ...(toml !== undefined ? { configSource: { data: toml } } : { disableFile: true }),
      ...(profileName !== undefined ? { profile: profileName } : {}),
      overrideEnvVars: provider,
    });
  } catch (err) {
    // e.g. "Cannot specify both client_key_path and client_key_data": names fields, not values.
    return fail(
      `Temporal settings${file && toml !== undefined ? ` (${file})` : ''}: ${(err as Error).message}`,
      ['TEMPORAL_CONFIG_FILE'],
    );
  }

  const wanted = profileName ?? DEFAULT_PROFILE;
  const usedProfile = names.includes(wanted) ? wanted : undefined;
  /** Where a TLS field came from: the variable when set, else the profile's field. */
  const origin = (variable: string, field: string) =>
    provider[variable] !== undefined ? variable : `${file} [profile.${usedProfile}.tls] ${field}`;
  const source = (
    s: { path: string } | { data: string | Uint8Array } | undefined,
    variable: string,
    field: string,
  ): PemSource | undefined => {
    if (s === undefined) return undefined;
    if ('path' in s) return { origin: origin(`${variable}_PATH`, `${field}_path`), path: s.path };
    const data = typeof s.data === 'string' ? s.data : Buffer.from(s.data).toString('utf8');
    return { origin: origin(`${variable}_DATA`, `${field}_data`), data };
  };

  const apiKey = profile.apiKey || undefined;
  let tls: boolean;
  let tlsConfig: TemporalTlsConfig | undefined;
  if (profile.tls === undefined) tls = apiKey !== undefined;
  else if (profile.tls.disabled === true) tls = false;
  else {
    tls = true;
    const t = profile.tls;
    tlsConfig = {
      ...(t.serverName ? { serverName: t.serverName } : {}),
      ...optional('serverCaCert', source(t.serverCACert, 'TEMPORAL_TLS_SERVER_CA_CERT', 'server_ca_cert')),
      ...optional('clientCert', source(t.clientCert, 'TEMPORAL_TLS_CLIENT_CERT', 'client_cert')),
      ...optional('clientKey', source(t.clientKey, 'TEMPORAL_TLS_CLIENT_KEY', 'client_key')),
    };
    if ((tlsConfig.clientCert === undefined) !== (tlsConfig.clientKey === undefined)) {
      const [has, lacks] = tlsConfig.clientCert
        ? [tlsConfig.clientCert.origin, 'a client key (TEMPORAL_TLS_CLIENT_KEY_PATH or tls.client_key_path)']
        : [
            tlsConfig.clientKey!.origin,
            'a client certificate (TEMPORAL_TLS_CLIENT_CERT_PATH or tls.client_cert_path)',
          ];
      fail(`${has} is set without ${lacks}: mTLS needs both`, [
        'TEMPORAL_TLS_CLIENT_CERT_PATH',
        'TEMPORAL_TLS_CLIENT_KEY_PATH',
      ]);
    }
    for (const s of [tlsConfig.serverCaCert, tlsConfig.clientCert, tlsConfig.clientKey]) {
      if (s && 'path' in s) checkReadable(s);
    }
    if (Object.keys(tlsConfig).length === 0) tlsConfig = undefined;
  }
  const grpcMeta = profile.grpcMeta && Object.keys(profile.grpcMeta).length ? profile.grpcMeta : undefined;
  return {
    address: profile.address || DEFAULT_ADDRESS,
    namespace: profile.namespace || DEFAULT_NAMESPACE,
    tls,
    ...(apiKey ? { apiKey } : {}),
    ...(tlsConfig ? { tlsConfig } : {}),
    ...(grpcMeta ? { grpcMeta } : {}),
    ...(usedProfile !== undefined && file !== undefined ? { profile: { name: usedProfile, file } } : {}),
  };
}

function optional<K extends string, V>(key: K, value: V | undefined): Partial<Record<K, V>> {
  return value === undefined ? {} : ({ [key]: value } as Record<K, V>);
}

/** The variable a PEM source's errors are reported under (its own, or the config file's). */
function variableOf(s: PemSource): string {
  return s.origin.startsWith('TEMPORAL_') ? s.origin : 'TEMPORAL_CONFIG_FILE';
}

function checkReadable(s: PemSource & { path: string }): void {
  let isFile = false;
  try {
    accessSync(s.path, constants.R_OK);
    isFile = statSync(s.path).isFile();
  } catch (err) {
    fail(`${s.origin}: cannot read ${s.path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, [
      variableOf(s),
    ]);
  }
  if (!isFile) fail(`${s.origin}: ${s.path} is not a file`, [variableOf(s)]);
}

/**
 * The PEM bytes of a certificate or key. Errors name the variable (or profile field) and the
 * path, never the content.
 * @throws ConfigError when the file cannot be read or does not hold PEM.
 */
export function readPem(s: PemSource): Buffer {
  let pem: Buffer;
  if ('path' in s) {
    try {
      pem = readFileSync(s.path);
    } catch (err) {
      return fail(`${s.origin}: cannot read ${s.path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, [
        variableOf(s),
      ]);
    }
  } else pem = Buffer.from(s.data, 'utf8');
  if (!pem.includes('-----BEGIN ')) {
    fail(`${s.origin}: ${'path' in s ? s.path : 'the value'} is not PEM (no "-----BEGIN" line)`, [
      variableOf(s),
    ]);
  }
  return pem;
}
