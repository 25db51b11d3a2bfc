/**
 * Connecting to Temporal as configured: one place for address, TLS, API key, the error, and
 * the data converter (claim-check codec, docs/blobs.md) every polysaga client shares with the worker.
 */
import { Client, Connection } from '@temporalio/client';
import { OpenTelemetryWorkflowClientInterceptor } from '@temporalio/interceptors-opentelemetry/lib/client/index.js';
import type pg from 'pg';
import { createPgPool } from '../adapters/postgres.js';
import { createDataConverter } from '../blobs/codec.js';
import type { Config } from '../config/index.js';

/** Connection options from the configuration (TLS and API key when set). */
export function temporalConnectionOptions(config: Config): { address: string; tls?: true; apiKey?: string } {
  return {
    address: config.temporal.address,
    ...(config.temporal.tls ? { tls: true as const } : {}),
    ...(config.temporal.apiKey ? { apiKey: config.temporal.apiKey } : {}),
  };
}

/** The one-line error for an unreachable Temporal (the CLI maps it to exit code 5). */
export function temporalUnreachable(config: Config, err: unknown): Error {
  return new Error(`cannot reach Temporal at ${config.temporal.address}: ${(err as Error).message}`, {
    cause: err,
  });
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
  try {
    connection = await Connection.connect(temporalConnectionOptions(config));
  } catch (err) {
    throw temporalUnreachable(config, err);
  }
  const ownPool = options.pool ? undefined : createPgPool(config.postgres, { max: 2, allowExitOnIdle: true });
  const pool = options.pool ?? ownPool!;
  const client = new Client({
    connection,
    namespace: config.temporal.namespace,
    dataConverter: createDataConverter({ pool, thresholdBytes: config.payloads.thresholdBytes }),
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
