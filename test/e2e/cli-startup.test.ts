/**
 * The CLI as installed: `polysaga --help` without touching a server, and an unreachable Temporal
 * reported with exit code 5 naming the address, bounded by POLYSAGA_CONNECT_TIMEOUT instead of
 * the SDK's retries. (Start-up times are measured by the bench, "CLI times", not asserted here.)
 */
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { polysaga } from '../helpers/cli.js';

describe('CLI start-up', () => {
  it('prints help with no server and no configuration', async () => {
    const r = await polysaga(['--help'], {
      TEMPORAL_ADDRESS: 'nowhere.invalid:1',
      POSTGRES_PORT: 'not a port',
    });
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: polysaga');
    expect(r.stdout).toContain('status');
  });

  it('reports an unreachable Temporal with exit 5, naming the address and the timeout', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const address = `127.0.0.1:${port}`;
    const r = await polysaga(['status', 'no-such-saga'], {
      TEMPORAL_ADDRESS: address,
      POLYSAGA_CONNECT_TIMEOUT: '1s',
    });
    expect(r.code).toBe(5);
    expect(r.stderr).toContain(`polysaga: cannot reach Temporal at ${address} within 1000 ms`);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });
});
