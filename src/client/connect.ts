/**
 * Connecting to Temporal as configured: one place for address, TLS, API key, the error, and
 * the data converter (encryption and claim-check codecs, docs/security.md and docs/blobs.md) every
 * polysaga client shares with the worker.
 */
import { trace } from '@opentelemetry/api';
import { Client, Connection, type TLSConfig, type WorkflowClientInterceptor } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import type pg from 'pg';
import { createPgPool } from '../backends/postgres/adapter.js';
import { createDataConverter } from '../blobs/codec.js';
import { SecretMasker } from '../audit/redact.js';
import { maskableSecrets, type Config } from '../config/index.js';
import { readPem } from '../config/temporal.js';

/** Options for `Connection.connect` (client) and `NativeConnection.connect` (worker) alike. */
export interface TemporalConnectionOptions {
  address: string;
  /** Always given: `false` keeps an API key from turning TLS on when `TEMPORAL_TLS=false`. */
  tls: boolean | TLSConfig;
  apiKey?: string;
  metadata?: Record<string, string>;
}

/**
 * Connection options from the configuration: address, TLS (server CA, server name, client
 * certificate pair read from their files), API key, gRPC headers. Every client, the CLI, the
 * worker, `recover` and `verify` connect through this (docs/deployment.md).
 * @throws ConfigError naming the variable or profile field of a certificate or key that cannot be read.
 */
export function temporalConnectionOptions(config: Config): TemporalConnectionOptions {
  const t = config.temporal;
  let tls: boolean | TLSConfig = t.tls;
  if (t.tls && t.tlsConfig) {
    const { serverName, serverCaCert, clientCert, clientKey } = t.tlsConfig;
    tls = {
      ...(serverName ? { serverNameOverride: serverName } : {}),
      ...(serverCaCert ? { serverRootCACertificate: readPem(serverCaCert) } : {}),
      ...(clientCert && clientKey
        ? { clientCertPair: { crt: readPem(clientCert), key: readPem(clientKey) } }
        : {}),
    };
  }
  return {
    address: t.address,
    tls,
    ...(t.apiKey ? { apiKey: t.apiKey } : {}),
    ...(t.grpcMeta ? { metadata: { ...t.grpcMeta } } : {}),
  };
}

/** Default of POLYSAGA_CONNECT_TIMEOUT. */
export const DEFAULT_CONNECT_TIMEOUT_MS = 3000;

/** The one-line error for an unreachable Temporal (the CLI maps it to exit code 5). */
export function temporalUnreachable(config: Config, err: unknown, timeoutMs?: number): Error {
  const within = timeoutMs !== undefined ? ` within ${timeoutMs} ms (POLYSAGA_CONNECT_TIMEOUT)` : '';
  return new Error(
    `cannot reach Temporal at ${config.temporal.address}${within}: ${(err as Error).message}`,
    { cause: err },
  );
}

/**
 * OpenTelemetry's client interceptor, used only while the caller has an active span: its
 * `_tracer-data` header is not a payload the codecs see, so without a span polysaga adds no
 * header (and no client span) to what Temporal stores.
 */
export function traceContextInterceptor(): WorkflowClientInterceptor {
  type Method = (input: unknown, next: (i: unknown) => Promise<unknown>) => Promise<unknown>;
  const otel = new OpenTelemetryWorkflowClientInterceptor() as unknown as Record<string, unknown>;
  const wrapped: Record<string, Method> = {};
  for (const name of Object.getOwnPropertyNames(Object.getPrototypeOf(otel))) {
    const method = otel[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    wrapped[name] = (input, next) =>
      trace.getActiveSpan() ? (method as Method).call(otel, input, next) : next(input);
  }
  return wrapped;
}

export interface ConnectTemporalClientOptions {
  /**
   * PostgreSQL pool of the blob store (big payloads). Default: a small pool made from
   * `config.postgres` that connects only when a payload is over the threshold or a reference
   * is read, and is ended by `close()`.
   */
  pool?: pg.Pool;
}

/** A connected client; `close()` closes the connection and the blob store's own pool. */
export interface ConnectedTemporalClient {
  client: Client;
  connection: Connection;
  close(): Promise<void>;
}

/**
 * Connects a `@temporalio/client` Client to the configured namespace, with the claim-check
 * data converter (payloads over `POLYSAGA_PAYLOAD_THRESHOLD` travel as references).
 * @throws an Error naming the address when Temporal cannot be reached.
 */
export async function connectTemporalClient(
  config: Config,
  options: ConnectTemporalClientOptions = {},
): Promise<ConnectedTemporalClient> {
  let connection: Connection;
  const connectTimeout = config.temporal.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const connectionOptions = temporalConnectionOptions(config); // a ConfigError, not "unreachable"
  try {
    connection = await Connection.connect({ ...connectionOptions, connectTimeout });
  } catch (err) {
    throw temporalUnreachable(config, err, connectTimeout);
  }
  const ownPool = options.pool ? undefined : createPgPool(config.postgres, { max: 2, allowExitOnIdle: true });
  const pool = options.pool ?? ownPool!;
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: createDataConverter({
      pool,
      thresholdBytes: config.payloads.thresholdBytes,
      keys: config.codec.keys,
      secrets: new SecretMasker(maskableSecrets(config).values),
    }),
    // The caller's W3C trace context travels with the start, when the caller has a span.
    interceptors: { workflow: [traceContextInterceptor()] },
  });
  let closed: Promise<void> | undefined;
  return {
    client,
    connection,
    close: () => (closed ??= Promise.allSettled([connection.close(), ownPool?.end()]).then(() => undefined)),
  };
}
