/**
 * Connecting to Temporal as configured: one place for address, TLS, API key, the error, and
 * the data converter (encryption and claim-check codecs, docs/security.md and docs/blobs.md) every
 * polysaga client shares with the worker.
 */
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import type pg from 'pg';
import { createPgPool } from '../adapters/postgres.js';
import { createDataConverter } from '../blobs/codec.js';
import { SecretMasker } from '../audit/redact.js';
import { maskableSecrets, type Config } from '../config/index.js';

/** Connection options from the configuration (TLS and API key when set). */
export function temporalConnectionOptions(config: Config): { address: string; tls?: true; apiKey?: string } {
  return {
    address: config.temporal.address,
    ...(config.temporal.tls ? { tls: true as const } : {}),
    ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
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
  try {
    connection = await Connection.connect({ ...temporalConnectionOptions(config), connectTimeout });
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
    // The caller's W3C trace context travels with the start (a no-op without a tracer provider).
    interceptors: { workflow: [new OpenTelemetryWorkflowClientInterceptor()] },
  });
  let closed: Promise<void> | undefined;
  return {
    client,
    connection,
    close: () => (closed ??= Promise.allSettled([connection.close(), ownPool?.end()]).then(() => undefined)),
  };
}
