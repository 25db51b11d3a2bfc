/**
 * vitest global setup: brings the local stack up (idempotent: reuses running servers) and
 * exports its connection environment to the test processes. Fails fast, naming the server,
 * when one cannot start. Set POLYSAGA_STACK=external to use servers you run yourself
 * (then the usual variables, e.g. TEMPORAL_ADDRESS, POSTGRES_HOST, must point at them).
 * Then it runs the audit migrations, since tests start real workers that write the audit trail
 * and a fresh stack has no `uds3_saga_events` yet.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createAuditPool, migrate } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';

const stackScript = fileURLToPath(new URL('../../scripts/stack/stack.sh', import.meta.url));

export function parseStackEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const m = /^export ([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) out[m[1]] = m[2];
  }
  return out;
}

export default async function setup(): Promise<void> {
  if (process.env.POLYSAGA_STACK !== 'external') startStack();
  const pool = createAuditPool(loadConfig().postgres, { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}

function startStack(): void {
  try {
    execFileSync('bash', [stackScript, 'up'], { stdio: ['ignore', 'inherit', 'inherit'] });
  } catch {
    throw new Error(
      'the local stack could not start (see the [stack] lines above for the server and its log)',
    );
  }
  const env = parseStackEnv(execFileSync('bash', [stackScript, 'env'], { encoding: 'utf8' }));
  for (const [k, v] of Object.entries(env)) {
    process.env[k] ??= v;
  }
}
