/**
 * Configuration: environment variables (and optionally a JSON config file), validated once.
 *
 * Every variable the project reads is named in {@link CONFIG_VARIABLES}; a test checks that
 * docker-compose.yml and the stack script use the same names. Secrets (passwords, keys,
 * tokens) come only from the environment and are masked by {@link redactConfig}.
 */
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { z } from 'zod';
import type { StoreAllowlists, StoreGuard } from '../saga/guard.js';
import { CODEC_KEY_BYTES, CODEC_KEY_ID_PATTERN, type CodecKey } from '../blobs/encryption.js';
import { defaultTaskQueue, kvPrefixOf, ScopeError, scopeOf } from '../saga/scope.js';
import { loadTemporalSettings, TEMPORAL_ENV_VARIABLES, type TemporalSettings } from './temporal.js';

const port = z.coerce.number().int().min(1).max(65535);
const bool = z
  .enum(['true', 'false', '1', '0', 'yes', 'no'])
  .transform((v) => v === 'true' || v === '1' || v === 'yes');
const url = z.string().url();

/** Schema of the environment, one entry per variable. */
export const envSchema = z.object({
  // Temporal
  TEMPORAL_ADDRESS: z.string().min(1).default('127.0.0.1:7233'),
  TEMPORAL_NAMESPACE: z.string().min(1).default('default'),
  // Unset: `polysaga` in the default scope, the scope (`<PROJECT_PREFIX>-<ENV>`) otherwise.
  TEMPORAL_TASK_QUEUE: z.string().min(1).optional(),
  TEMPORAL_TLS: bool.default(false),
  TEMPORAL_API_KEY: z.string().min(1).optional(),
  TEMPORAL_UI_URL: url.default('http://127.0.0.1:8233'),
  // Temporal's environment configuration (docs/deployment.md, src/config/temporal.ts): TLS and
  // mTLS files or PEM text, and profiles of temporal.toml; the variables above override a profile.
  TEMPORAL_TLS_CLIENT_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_CERT_DATA: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_KEY_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_CLIENT_KEY_DATA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_PATH: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_CA_CERT_DATA: z.string().min(1).optional(),
  TEMPORAL_TLS_SERVER_NAME: z.string().min(1).optional(),
  TEMPORAL_TLS_DISABLE_HOST_VERIFICATION: bool.optional(),
  TEMPORAL_CONFIG_FILE: z.string().min(1).optional(),
  TEMPORAL_PROFILE: z.string().min(1).optional(),
  // How long a client waits for Temporal before reporting it unreachable (issue 10, fast CLI)
  POLYSAGA_CONNECT_TIMEOUT: z
    .string()
    .regex(/^\d+(ms|s|m)$/, 'must look like 500ms, 3s or 1m')
    .default('3s'),
  // PostgreSQL (relational backend and audit table). SAGA_REL_HOST overrides the host (first seed).
  POSTGRES_HOST: z.string().min(1).default('127.0.0.1'),
  SAGA_REL_HOST: z.string().min(1).optional(),
  POSTGRES_PORT: port.default(55432),
  POSTGRES_USER: z.string().min(1).default('polysaga'),
  POSTGRES_PASSWORD: z.string().default('polysaga'),
  POSTGRES_DB: z.string().min(1).default('polysaga'),
  POSTGRES_POOL_MAX: z.coerce.number().int().min(1).max(200).default(10),
  // Guarded stores: least-privilege roles (docs/security.md); unset = POSTGRES_USER for everything.
  POSTGRES_STEP_USER: z.string().min(1).optional(),
  POSTGRES_STEP_PASSWORD: z.string().optional(),
  POSTGRES_AUDIT_USER: z.string().min(1).optional(),
  POSTGRES_AUDIT_PASSWORD: z.string().optional(),
  // Neo4j
  NEO4J_URL: z
    .string()
    .regex(/^(bolt|neo4j)(\+s|\+ssc)?:\/\//, 'must be a bolt:// or neo4j:// URL')
    .default('bolt://127.0.0.1:57687'),
  NEO4J_USER: z.string().default('neo4j'),
  NEO4J_PASSWORD: z.string().default(''),
  // S3 (any S3-compatible endpoint; leave S3_ENDPOINT unset for AWS)
  S3_ENDPOINT: url.optional(),
  S3_REGION: z.string().min(1).default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().min(1).optional(),
  S3_SECRET_ACCESS_KEY: z.string().min(1).optional(),
  S3_FORCE_PATH_STYLE: bool.default(true),
  S3_BUCKET: z.string().min(3).default('polysaga'),
  // Redis (key-value backend)
  REDIS_URL: z
    .string()
    .regex(/^rediss?:\/\//, 'must be a redis:// URL')
    .default('redis://127.0.0.1:56379'),
  // Vector: Chroma (real engine of the local stack) and Qdrant
  VECTOR_ENGINE: z.enum(['chroma', 'qdrant']).default('chroma'),
  CHROMA_URL: url.default('http://127.0.0.1:58000'),
  QDRANT_URL: url.optional(),
  QDRANT_API_KEY: z.string().min(1).optional(),
  // HTTP services: JSON object { "<service>": { "url": "...", "timeout": "10s" } }
  HTTP_SERVICES: z.string().optional(),
  HTTP_INTERNAL_TOKEN: z.string().min(1).optional(),
  // Naming and retry defaults (first seed)
  PROJECT_PREFIX: z
    .string()
    .regex(/^[a-z][a-z0-9_]{0,30}$/, 'must be lower-case letters, digits or _')
    .default('polysaga'),
  ENV: z.enum(['dev', 'test', 'staging', 'prod']).default('prod'),
  POLYSAGA_MAX_RETRIES: z.coerce.number().int().min(0).max(100).default(3),
  POLYSAGA_RETRY_INITIAL_INTERVAL: z
    .string()
    .regex(/^\d+(ms|s|m)$/, 'must look like 500ms, 1s or 2m')
    .default('1s'),
  // Definition limits, checked before a saga starts (docs/definitions.md, "Limits")
  POLYSAGA_MAX_DEFINITION_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(16 * 1024 * 1024),
  POLYSAGA_MAX_STEPS: z.coerce.number().int().min(1).default(1000),
  POLYSAGA_MAX_STEP_PAYLOAD_BYTES: z.coerce
    .number()
    .int()
    .min(1)
    .default(4 * 1024 * 1024),
  POLYSAGA_MIN_STEP_TIMEOUT: z
    .string()
    .regex(/^\d+(ms|s|m)$/, 'must look like 500ms, 1s or 2m')
    .default('1s'),
  // Payloads over this many bytes are kept in polysaga_blobs, history holds a reference (docs/blobs.md).
  POLYSAGA_PAYLOAD_THRESHOLD: z.coerce
    .number({ message: 'must be a number of bytes' })
    .int('must be a whole number of bytes')
    .min(1024, 'must be at least 1024 bytes')
    .max(1_048_576, 'must be at most 1048576 bytes (Temporal refuses payloads of 2 MiB)')
    .default(131_072),
  // Guarded stores: allowlists per backend, comma-separated (docs/security.md "Guarded stores").
  POLYSAGA_ALLOW_POSTGRES_TABLES: z
    .string()
    .regex(
      /^\s*([A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\*))?)(\s*,\s*[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\*))?)*\s*,?\s*$/,
      'must be a comma-separated list of table, schema.table or schema.*',
    )
    .optional(),
  POLYSAGA_ALLOW_NEO4J_LABELS: z.string().optional(),
  POLYSAGA_ALLOW_KV_PREFIXES: z.string().optional(),
  POLYSAGA_ALLOW_S3_PREFIXES: z
    .string()
    .regex(
      /^\s*[^,/\s]+\/[^,]*(,\s*[^,/\s]+\/[^,]*)*$/,
      'must be a comma-separated list of bucket/key-prefix',
    )
    .optional(),
  POLYSAGA_ALLOW_VECTOR_COLLECTIONS: z.string().optional(),
  // Payload encryption (docs/security.md, "Encrypted payloads"): `id:base64-32-byte-key`, comma
  // separated, newest first; or the path of a file holding the same list (one per line allowed).
  POLYSAGA_CODEC_KEYS: z.string().optional(),
  POLYSAGA_CODEC_KEYS_FILE: z.string().min(1).optional(),
  // `polysaga codec-server`: its port, and the bearer token it asks for (none: no token).
  POLYSAGA_CODEC_SERVER_PORT: port.default(8081),
  POLYSAGA_CODEC_SERVER_TOKEN: z.string().min(16, 'must be at least 16 characters').optional(),
  POLYSAGA_SENSITIVE_FIELDS: z.string().default('password,secret,token,apiKey,api_key,authorization'),
  LOG_LEVEL: z.enum(['DEBUG', 'INFO', 'WARN', 'ERROR']).default('INFO'),
  // Observability (docs/observability.md): worker /metrics port (unset: off), log line format.
  POLYSAGA_METRICS_PORT: port.optional(),
  POLYSAGA_METRICS_HOST: z.string().min(1).default('0.0.0.0'),
  POLYSAGA_LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  // Plugin modules loaded by the worker and the CLI (docs/backends.md): comma-separated paths,
  // relative to the working directory; in the config file also a JSON array of paths.
  POLYSAGA_PLUGINS: z.string().optional(),
});

export type RawEnv = z.infer<typeof envSchema>;

/** Names of every variable polysaga reads. */
export const CONFIG_VARIABLES = Object.keys(envSchema.shape) as (keyof RawEnv)[];

/** Names whose values are secrets: never logged, never printed. */
export const SECRET_VARIABLES: readonly (keyof RawEnv)[] = [
  'TEMPORAL_API_KEY',
  'TEMPORAL_TLS_CLIENT_KEY_DATA',
  'POSTGRES_PASSWORD',
  'POSTGRES_STEP_PASSWORD',
  'POSTGRES_AUDIT_PASSWORD',
  'NEO4J_PASSWORD',
  'S3_SECRET_ACCESS_KEY',
  'QDRANT_API_KEY',
  'HTTP_INTERNAL_TOKEN',
  'POLYSAGA_CODEC_KEYS',
  'POLYSAGA_CODEC_SERVER_TOKEN',
];

export interface HttpServiceConfig {
  url: string;
  timeoutMs?: number;
}

export interface Config {
  temporal: {
    address: string;
    namespace: string;
    taskQueue: string;
    tls: boolean;
    apiKey?: string;
    uiUrl: string;
    /** TLS files and server name, gRPC headers, temporal.toml profile (src/config/temporal.ts). */
    tlsConfig?: TemporalSettings['tlsConfig'];
    grpcMeta?: TemporalSettings['grpcMeta'];
    profile?: TemporalSettings['profile'];
    /** POLYSAGA_CONNECT_TIMEOUT: a client's connect deadline (default 3 s). */
    connectTimeoutMs?: number;
  };
  postgres: {
    host: string;
    port: number;
    user: string;
    password: string;
    database: string;
    poolMax: number;
    /** Role of postgres steps (`POSTGRES_STEP_USER`); unset: `user`. */
    step?: { user: string; password: string };
    /** Role of the worker's audit rows, blobs and write-ahead records (`POSTGRES_AUDIT_USER`); unset: `user`. */
    audit?: { user: string; password: string };
  };
  neo4j: { url: string; user: string; password: string };
  s3: {
    endpoint?: string;
    region: string;
    accessKeyId?: string;
    secretAccessKey?: string;
    forcePathStyle: boolean;
    bucket: string;
  };
  redis: { url: string };
  vector: { engine: 'chroma' | 'qdrant'; chromaUrl: string; qdrantUrl?: string; qdrantApiKey?: string };
  http: { services: Record<string, HttpServiceConfig>; internalToken?: string };
  projectPrefix: string;
  env: RawEnv['ENV'];
  /**
   * The scope of PROJECT_PREFIX and ENV (src/saga/scope.ts): `''` for the defaults (polysaga,
   * prod), `<PROJECT_PREFIX>-<ENV>` otherwise. Saga ids, identity keys and idempotency keys of
   * this configuration's sagas carry it, and the default task queue is named after it.
   */
  scope: string;
  /** Prefix of polysaga's own Redis keys, without the `:` (`polysaga`; in a scope `<PROJECT_PREFIX>:<ENV>`). */
  kvPrefix: string;
  /** Plugin module paths (`POLYSAGA_PLUGINS`), as given; loaded by `loadPlugins` (src/plugins). */
  plugins: string[];
  retry: { maxRetries: number; initialInterval: string };
  /** Definition limits (the `DefinitionLimits` of src/saga/validate.ts). */
  limits: {
    maxDefinitionBytes: number;
    maxSteps: number;
    maxStepPayloadBytes: number;
    minStepTimeoutMs: number;
  };
  /** Claim-check threshold: payloads over `thresholdBytes` go to the blob store. */
  payloads: { thresholdBytes: number };
  /** Allowlists of the guarded stores (`POLYSAGA_ALLOW_*`); see {@link storeGuard}. */
  allow: StoreAllowlists;
  /**
   * Payload encryption keys, newest first (empty: payloads are not encrypted). `source` names
   * the variable they came from.
   */
  codec: {
    keys: CodecKey[];
    source?: 'POLYSAGA_CODEC_KEYS' | 'POLYSAGA_CODEC_KEYS_FILE';
    /** `polysaga codec-server` defaults. */
    server: { port: number; token?: string };
  };
  sensitiveFields: string[];
  logLevel: RawEnv['LOG_LEVEL'];
  /**
   * The value of every set variable of {@link SECRET_VARIABLES} (filled by {@link loadConfig}),
   * and of every other set variable, for {@link maskableSecrets}. Printed only through
   * {@link redactConfig}.
   */
  configuredValues?: { secrets: { variable: string; value: string }[]; others: string[] };
  /** Worker metrics and log format (docs/observability.md). */
  observability: {
    /** `/metrics` port of the worker (`POLYSAGA_METRICS_PORT`); unset: no endpoint. */
    metricsPort?: number;
    metricsHost: string;
    /** `POLYSAGA_LOG_FORMAT`; unset: `pretty` on a terminal, `json` otherwise. */
    logFormat?: 'json' | 'pretty';
  };
}

/** Raised when configuration is missing or malformed; the message names every bad variable. */
export class ConfigError extends Error {
  override name = 'ConfigError';
  constructor(
    message: string,
    readonly variables: string[],
  ) {
    super(message);
  }
}

const httpServicesSchema = z.record(
  z.string().regex(/^[a-zA-Z][\w-]*$/),
  z.object({
    url: url,
    timeout: z
      .string()
      .regex(/^\d+(ms|s|m)$/)
      .optional(),
  }),
);

/** Parses a duration such as `500ms`, `10s`, `2m` into milliseconds. */
export function parseDurationMs(value: string): number {
  const m = /^(\d+)(ms|s|m)$/.exec(value);
  if (!m) throw new Error(`not a duration: ${value}`);
  const n = Number(m[1]);
  return m[2] === 'ms' ? n : m[2] === 's' ? n * 1000 : n * 60_000;
}

/**
 * Parses a list of encryption keys, `id:base64key` separated by commas or new lines (lines
 * starting with `#` are comments), newest first. Errors name the variable, the entry's position
 * and its key id, never the key.
 * @throws ConfigError
 */
export function parseCodecKeys(text: string, variable: string): CodecKey[] {
  const entries = text
    .split('\n')
    .filter((line) => !line.trim().startsWith('#'))
    .flatMap((line) => line.split(','))
    .map((e) => e.trim())
    .filter((e) => e !== '');
  const fail = (msg: string): never => {
    throw new ConfigError(`invalid configuration: ${variable}: ${msg}`, [variable.split(' ')[0]!]);
  };
  if (entries.length === 0) fail('holds no key (expected id:base64key, newest first)');
  const keys: CodecKey[] = [];
  entries.forEach((entry, i) => {
    const at = `entry ${i + 1}`;
    const colon = entry.indexOf(':');
    if (colon < 0) fail(`${at} must look like id:base64key`);
    const id = entry.slice(0, colon).trim();
    const b64 = entry.slice(colon + 1).trim();
    if (!CODEC_KEY_ID_PATTERN.test(id))
      fail(`${at}: key id must be letters, digits, '.', '_' or '-' (at most 64, first a letter or digit)`);
    const named = `${at} (key id ${JSON.stringify(id)})`;
    if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(b64)) fail(`${named}: the key is not base64`);
    const key = Buffer.from(b64, 'base64');
    if (key.byteLength !== CODEC_KEY_BYTES)
      fail(
        `${named}: the key must be ${CODEC_KEY_BYTES} bytes (AES-256), it is ${key.byteLength}; ` +
          'generate one with `openssl rand -base64 32`',
      );
    if (keys.some((k) => k.id === id)) fail(`${named}: the key id is used twice`);
    keys.push({ id, key: key.toString('base64') });
  });
  return keys;
}

function loadCodec(e: RawEnv): Config['codec'] {
  const server = {
    port: e.POLYSAGA_CODEC_SERVER_PORT,
    ...(e.POLYSAGA_CODEC_SERVER_TOKEN ? { token: e.POLYSAGA_CODEC_SERVER_TOKEN } : {}),
  };
  return { ...loadCodecKeys(e), server };
}

function loadCodecKeys(e: RawEnv): Omit<Config['codec'], 'server'> {
  if (e.POLYSAGA_CODEC_KEYS !== undefined && e.POLYSAGA_CODEC_KEYS_FILE !== undefined) {
    throw new ConfigError(
      'invalid configuration: set POLYSAGA_CODEC_KEYS or POLYSAGA_CODEC_KEYS_FILE, not both',
      ['POLYSAGA_CODEC_KEYS', 'POLYSAGA_CODEC_KEYS_FILE'],
    );
  }
  if (e.POLYSAGA_CODEC_KEYS !== undefined) {
    return {
      keys: parseCodecKeys(e.POLYSAGA_CODEC_KEYS, 'POLYSAGA_CODEC_KEYS'),
      source: 'POLYSAGA_CODEC_KEYS',
    };
  }
  if (e.POLYSAGA_CODEC_KEYS_FILE !== undefined) {
    let text: string;
    try {
      text = readFileSync(e.POLYSAGA_CODEC_KEYS_FILE, 'utf8');
    } catch (err) {
      throw new ConfigError(
        `invalid configuration: POLYSAGA_CODEC_KEYS_FILE: cannot read ${e.POLYSAGA_CODEC_KEYS_FILE} (${(err as NodeJS.ErrnoException).code ?? 'error'})`,
        ['POLYSAGA_CODEC_KEYS_FILE'],
      );
    }
    return {
      keys: parseCodecKeys(text, `POLYSAGA_CODEC_KEYS_FILE (${e.POLYSAGA_CODEC_KEYS_FILE})`),
      source: 'POLYSAGA_CODEC_KEYS_FILE',
    };
  }
  return { keys: [] };
}

/**
 * Reads the optional JSON config file: `POLYSAGA_CONFIG`, else `server_config.json` in the
 * working directory (the first seed's name). Keys are the same variable names; the
 * environment wins over the file. Secrets in the file are refused.
 */
function readConfigFile(env: NodeJS.ProcessEnv): Record<string, string> {
  const path = env.POLYSAGA_CONFIG ?? resolve(process.cwd(), 'server_config.json');
  if (!existsSync(path)) {
    if (env.POLYSAGA_CONFIG)
      throw new ConfigError(`POLYSAGA_CONFIG: file not found: ${path}`, ['POLYSAGA_CONFIG']);
    return {};
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`, ['POLYSAGA_CONFIG']);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`${path}: must hold a JSON object of variable names to values`, [
      'POLYSAGA_CONFIG',
    ]);
  }
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(parsed)) {
    if ((SECRET_VARIABLES as string[]).includes(k)) {
      throw new ConfigError(`${path}: ${k} is a secret and may only come from the environment`, [k]);
    }
    if (!(CONFIG_VARIABLES as string[]).includes(k)) {
      throw new ConfigError(`${path}: unknown key ${k}`, [k]);
    }
    // POLYSAGA_PLUGINS may be a JSON array of paths in the file.
    if (k === 'POLYSAGA_PLUGINS' && Array.isArray(v)) {
      const bad = v.findIndex((x) => typeof x !== 'string' || x.includes(','));
      if (bad >= 0)
        throw new ConfigError(`${path}: POLYSAGA_PLUGINS[${bad}] must be a path (a string without commas)`, [
          'POLYSAGA_PLUGINS',
        ]);
      out[k] = (v as string[]).join(',');
      continue;
    }
    out[k] = String(v);
  }
  return out;
}

/**
 * Validates the environment (plus config file) and returns the typed configuration.
 * @throws ConfigError naming each missing or malformed variable.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const fromFile = readConfigFile(env);
  const merged: Record<string, string | undefined> = { ...fromFile };
  for (const name of CONFIG_VARIABLES) {
    const v = env[name];
    if (v !== undefined && v !== '') merged[name] = v;
  }
  const parsed = envSchema.safeParse(merged);
  if (!parsed.success) {
    const names = [...new Set(parsed.error.issues.map((i) => String(i.path[0])))];
    const lines = parsed.error.issues.map((i) => `${String(i.path[0])}: ${i.message}`);
    throw new ConfigError(`invalid configuration: ${lines.join('; ')}`, names);
  }
  const e = parsed.data;
  const configuredValues: NonNullable<Config['configuredValues']> = { secrets: [], others: [] };
  for (const name of CONFIG_VARIABLES) {
    const raw = e[name];
    if (raw === undefined || raw === '') continue;
    const v = typeof raw === 'string' ? raw : String(raw);
    if ((SECRET_VARIABLES as string[]).includes(name))
      configuredValues.secrets.push({ variable: name, value: v });
    else configuredValues.others.push(v);
  }
  let services: Record<string, HttpServiceConfig> = {};
  if (e.HTTP_SERVICES) {
    let raw: unknown;
    try {
      raw = JSON.parse(e.HTTP_SERVICES);
    } catch {
      throw new ConfigError('invalid configuration: HTTP_SERVICES: not valid JSON', ['HTTP_SERVICES']);
    }
    const s = httpServicesSchema.safeParse(raw);
    if (!s.success) {
      throw new ConfigError(
        `invalid configuration: HTTP_SERVICES: ${s.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
        ['HTTP_SERVICES'],
      );
    }
    services = Object.fromEntries(
      Object.entries(s.data).map(([k, v]) => [
        k,
        { url: v.url, ...(v.timeout ? { timeoutMs: parseDurationMs(v.timeout) } : {}) },
      ]),
    );
  }
  if ((e.S3_ACCESS_KEY_ID === undefined) !== (e.S3_SECRET_ACCESS_KEY === undefined)) {
    throw new ConfigError(
      'invalid configuration: S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY must be set together',
      ['S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY'],
    );
  }
  let scope: string;
  try {
    scope = scopeOf({ projectPrefix: e.PROJECT_PREFIX, env: e.ENV });
  } catch (err) {
    if (!(err instanceof ScopeError)) throw err;
    throw new ConfigError(`invalid configuration: ${err.message}`, [err.variable]);
  }
  const temporal = loadTemporalSettings(pickTemporal(merged), env);
  // An API key from a temporal.toml profile is masked by value like one from the environment.
  if (temporal.apiKey && !configuredValues.secrets.some((x) => x.value === temporal.apiKey))
    configuredValues.secrets.push({ variable: 'TEMPORAL_API_KEY', value: temporal.apiKey });
  return {
    temporal: {
      // address, namespace, tls, apiKey, tlsConfig, grpcMeta, profile: Temporal's environment
      // configuration (temporal.toml profile, overridden by the variables; src/config/temporal.ts)
      ...temporal,
      // An explicit TEMPORAL_TASK_QUEUE wins over the scope's default.
      taskQueue: e.TEMPORAL_TASK_QUEUE ?? defaultTaskQueue(scope),
      uiUrl: e.TEMPORAL_UI_URL,
      connectTimeoutMs: parseDurationMs(e.POLYSAGA_CONNECT_TIMEOUT),
    },
    postgres: {
      host: e.SAGA_REL_HOST ?? e.POSTGRES_HOST,
      port: e.POSTGRES_PORT,
      user: e.POSTGRES_USER,
      password: e.POSTGRES_PASSWORD,
      database: e.POSTGRES_DB,
      poolMax: e.POSTGRES_POOL_MAX,
      ...(e.POSTGRES_STEP_USER
        ? { step: { user: e.POSTGRES_STEP_USER, password: e.POSTGRES_STEP_PASSWORD ?? '' } }
        : {}),
      ...(e.POSTGRES_AUDIT_USER
        ? { audit: { user: e.POSTGRES_AUDIT_USER, password: e.POSTGRES_AUDIT_PASSWORD ?? '' } }
        : {}),
    },
    neo4j: { url: e.NEO4J_URL, user: e.NEO4J_USER, password: e.NEO4J_PASSWORD },
    s3: {
      ...(e.S3_ENDPOINT ? { endpoint: e.S3_ENDPOINT } : {}),
      region: e.S3_REGION,
      ...(e.S3_ACCESS_KEY_ID ? { accessKeyId: e.S3_ACCESS_KEY_ID } : {}),
      ...(e.S3_SECRET_ACCESS_KEY ? { secretAccessKey: e.S3_SECRET_ACCESS_KEY } : {}),
      forcePathStyle: e.S3_FORCE_PATH_STYLE,
      bucket: e.S3_BUCKET,
    },
    redis: { url: e.REDIS_URL },
    vector: {
      engine: e.VECTOR_ENGINE,
      chromaUrl: e.CHROMA_URL,
      ...(e.QDRANT_URL ? { qdrantUrl: e.QDRANT_URL } : {}),
      ...(e.QDRANT_API_KEY ? { qdrantApiKey: e.QDRANT_API_KEY } : {}),
    },
    http: { services, ...(e.HTTP_INTERNAL_TOKEN ? { internalToken: e.HTTP_INTERNAL_TOKEN } : {}) },
    projectPrefix: e.PROJECT_PREFIX,
    env: e.ENV,
    scope,
    kvPrefix: kvPrefixOf({ projectPrefix: e.PROJECT_PREFIX, env: e.ENV }),
    plugins: (e.POLYSAGA_PLUGINS ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    retry: { maxRetries: e.POLYSAGA_MAX_RETRIES, initialInterval: e.POLYSAGA_RETRY_INITIAL_INTERVAL },
    limits: {
      maxDefinitionBytes: e.POLYSAGA_MAX_DEFINITION_BYTES,
      maxSteps: e.POLYSAGA_MAX_STEPS,
      maxStepPayloadBytes: e.POLYSAGA_MAX_STEP_PAYLOAD_BYTES,
      minStepTimeoutMs: parseDurationMs(e.POLYSAGA_MIN_STEP_TIMEOUT),
    },
    payloads: { thresholdBytes: e.POLYSAGA_PAYLOAD_THRESHOLD },
    allow: {
      ...listOf('postgresTables', e.POLYSAGA_ALLOW_POSTGRES_TABLES),
      ...listOf('neo4jLabels', e.POLYSAGA_ALLOW_NEO4J_LABELS),
      ...listOf('kvPrefixes', e.POLYSAGA_ALLOW_KV_PREFIXES),
      ...listOf('s3Prefixes', e.POLYSAGA_ALLOW_S3_PREFIXES),
      ...listOf('vectorCollections', e.POLYSAGA_ALLOW_VECTOR_COLLECTIONS),
    },
    codec: loadCodec(e),
    sensitiveFields: e.POLYSAGA_SENSITIVE_FIELDS.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    logLevel: e.LOG_LEVEL,
    configuredValues,
    observability: {
      ...(e.POLYSAGA_METRICS_PORT !== undefined ? { metricsPort: e.POLYSAGA_METRICS_PORT } : {}),
      metricsHost: e.POLYSAGA_METRICS_HOST,
      ...(e.POLYSAGA_LOG_FORMAT ? { logFormat: e.POLYSAGA_LOG_FORMAT } : {}),
    },
  };
}

/** The variables of Temporal's environment configuration that were set (no defaults filled in). */
function pickTemporal(
  merged: Record<string, string | undefined>,
): Partial<Record<(typeof TEMPORAL_ENV_VARIABLES)[number], string>> {
  return Object.fromEntries(
    TEMPORAL_ENV_VARIABLES.filter((n) => merged[n] !== undefined).map((n) => [n, merged[n]!]),
  );
}

/** One allowlist variable as a list (trimmed, empty entries dropped); unset: nothing. */
function listOf<K extends keyof StoreAllowlists>(name: K, value: string | undefined): StoreAllowlists {
  if (value === undefined) return {};
  const entries = value
    .split(',')
    .map((v) => v.trim())
    .filter(Boolean);
  return entries.length > 0 ? { [name]: entries } : {};
}

/** The store guard of this configuration: polysaga's own prefixes and the allowlists (src/saga/guard.ts). */
export function storeGuard(config: Pick<Config, 'projectPrefix' | 's3' | 'allow'>): StoreGuard {
  return { projectPrefix: config.projectPrefix, s3Bucket: config.s3.bucket, allow: config.allow };
}

/** The `postgres` section with the credentials of `role` (`step` or `audit`) when configured. */
export function postgresAs(cfg: Config['postgres'], role: 'step' | 'audit'): Config['postgres'] {
  const creds = cfg[role];
  return creds ? { ...cfg, user: creds.user, password: creds.password } : cfg;
}

/** A copy of the configuration safe to print: every secret replaced by `***`. */
export function redactConfig(config: Config): Config {
  const mask = (v: string | undefined) => (v === undefined || v === '' ? v : '***');
  return {
    ...config,
    temporal: {
      ...config.temporal,
      ...(config.temporal.apiKey ? { apiKey: '***' } : {}),
      // A client key given as PEM text, and gRPC header values (they may carry credentials).
      ...(config.temporal.tlsConfig?.clientKey && 'data' in config.temporal.tlsConfig.clientKey
        ? {
            tlsConfig: {
              ...config.temporal.tlsConfig,
              clientKey: { origin: config.temporal.tlsConfig.clientKey.origin, data: '***' },
            },
          }
        : {}),
      ...(config.temporal.grpcMeta
        ? { grpcMeta: Object.fromEntries(Object.keys(config.temporal.grpcMeta).map((k) => [k, '***'])) }
        : {}),
    },
    postgres: {
      ...config.postgres,
      password: mask(config.postgres.password) ?? '',
      ...(config.postgres.step
        ? { step: { ...config.postgres.step, password: mask(config.postgres.step.password) ?? '' } }
        : {}),
      ...(config.postgres.audit
        ? { audit: { ...config.postgres.audit, password: mask(config.postgres.audit.password) ?? '' } }
        : {}),
    },
    neo4j: { ...config.neo4j, password: mask(config.neo4j.password) ?? '' },
    s3: { ...config.s3, ...(config.s3.secretAccessKey ? { secretAccessKey: '***' } : {}) },
    vector: { ...config.vector, ...(config.vector.qdrantApiKey ? { qdrantApiKey: '***' } : {}) },
    http: { ...config.http, ...(config.http.internalToken ? { internalToken: '***' } : {}) },
    // Key ids stay (they are in every encrypted payload); the keys do not.
    codec: {
      ...config.codec,
      keys: config.codec.keys.map((k) => ({ id: k.id, key: '***' })),
      server: { ...config.codec.server, ...(config.codec.server.token ? { token: '***' } : {}) },
    },
    ...(config.configuredValues
      ? {
          configuredValues: {
            ...config.configuredValues,
            secrets: config.configuredValues.secrets.map((s) => ({ variable: s.variable, value: '***' })),
          },
        }
      : {}),
  };
}

// --- Secrets masked by value (docs/security.md, "Secrets masked by value") -------------------

/** Shortest secret value that is masked (the same as MIN_MASKED_SECRET_LENGTH of src/audit/redact.ts). */
const MIN_MASKED_LENGTH = 8;

/**
 * The secret values to mask wherever they would appear (step results, audit rows, logs, error
 * texts, payloads), derived from {@link SECRET_VARIABLES}: every set secret variable, including
 * ones added to that list later. `unmasked` names (never shows) the secret variables whose value
 * is not masked: shorter than 8 characters, or equal (ignoring case) to the value of a non-secret
 * variable such as POSTGRES_USER or POSTGRES_DB, since masking it would mask that name
 * everywhere (the local stack's `polysaga` password is such a value). A configuration not built
 * by {@link loadConfig} falls back to the secret fields of {@link Config}.
 */
export function maskableSecrets(config: Config): { values: string[]; unmasked: string[] } {
  const known = config.configuredValues ?? {
    secrets: [
      { variable: 'TEMPORAL_API_KEY', value: config.temporal.apiKey },
      { variable: 'POSTGRES_PASSWORD', value: config.postgres.password },
      { variable: 'NEO4J_PASSWORD', value: config.neo4j.password },
      { variable: 'S3_SECRET_ACCESS_KEY', value: config.s3.secretAccessKey },
      { variable: 'QDRANT_API_KEY', value: config.vector.qdrantApiKey },
      { variable: 'HTTP_INTERNAL_TOKEN', value: config.http.internalToken },
    ].filter((s): s is { variable: string; value: string } => typeof s.value === 'string' && s.value !== ''),
    others: [
      config.postgres.user,
      config.postgres.database,
      config.postgres.host,
      config.neo4j.user,
      config.projectPrefix,
      config.s3.bucket,
      config.s3.accessKeyId ?? '',
      config.temporal.namespace,
      config.temporal.taskQueue,
    ],
  };
  const others = new Set(known.others.map((v) => v.toLowerCase()));
  // Codec keys may come from a file (POLYSAGA_CODEC_KEYS_FILE): mask the key material itself.
  const secrets = [
    ...known.secrets,
    ...config.codec.keys.map((k) => ({
      variable: 'POLYSAGA_CODEC_KEYS',
      value: typeof k.key === 'string' ? k.key : Buffer.from(k.key).toString('base64'),
    })),
  ];
  const values: string[] = [];
  const unmasked: string[] = [];
  for (const s of secrets) {
    if (s.value.length < MIN_MASKED_LENGTH || others.has(s.value.toLowerCase())) unmasked.push(s.variable);
    else values.push(s.value);
  }
  return { values, unmasked };
}
