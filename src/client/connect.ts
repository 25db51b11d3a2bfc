/** Connecting to Temporal as configured: one place for address, TLS, API key and the error. */
import { Client, Connection } from '@temporalio/client';
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

/**
 * Connects a `@temporalio/client` Client to the configured namespace.
 * @throws an Error naming the address when Temporal cannot be reached.
 */
export async function connectTemporalClient(
  config: Config,
): Promise<{ client: Client; connection: Connection }> {
  let connection: Connection;
  try {
    connection = await Connection.connect(temporalConnectionOptions(config));
  } catch (err) {
    throw temporalUnreachable(config, err);
  }
  return { client: new Client({ connection, namespace: config.temporal.namespace }), connection };
}
