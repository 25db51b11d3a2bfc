/**
 * An unreachable Temporal is reported quickly: POLYSAGA_CONNECT_TIMEOUT (default 3 s) bounds the
 * client's connect, and the error names the address and the variable. A closed local port is
 * the unreachable server (nothing listens on it), so no stack is needed.
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { connectTemporalClient } from '../../src/client/connect.js';
import { ConfigError, loadConfig } from '../../src/config/index.js';

async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe('POLYSAGA_CONNECT_TIMEOUT', () => {
  it('defaults to 3 s and reads durations; a bad value is named', () => {
    expect(loadConfig({ POLYSAGA_CONFIG: undefined }).temporal.connectTimeoutMs).toBe(3000);
    expect(
      loadConfig({ POLYSAGA_CONFIG: undefined, POLYSAGA_CONNECT_TIMEOUT: '500ms' }).temporal.connectTimeoutMs,
    ).toBe(500);
    expect(() => loadConfig({ POLYSAGA_CONFIG: undefined, POLYSAGA_CONNECT_TIMEOUT: 'soon' })).toThrow(
      ConfigError,
    );
    expect(() => loadConfig({ POLYSAGA_CONFIG: undefined, POLYSAGA_CONNECT_TIMEOUT: 'soon' })).toThrow(
      /POLYSAGA_CONNECT_TIMEOUT/,
    );
  });

  it('reports an unreachable server after the timeout, naming its address', async () => {
    const address = `127.0.0.1:${await closedPort()}`;
    const config = loadConfig({
      POLYSAGA_CONFIG: undefined,
      TEMPORAL_ADDRESS: address,
      POLYSAGA_CONNECT_TIMEOUT: '1s',
    });
    const started = Date.now();
    const err = await connectTemporalClient(config).then(
      () => null,
      (e: unknown) => e as Error,
    );
    const elapsed = Date.now() - started;
    expect(err?.message).toContain(`cannot reach Temporal at ${address} within 1000 ms`);
    expect(err?.message).toContain('POLYSAGA_CONNECT_TIMEOUT');
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(10_000);
  });
});
