/**
 * Global setup of the `faults` project: the local stack (test/helpers/global-setup.ts), then
 * the audit table migrations, since the fault tests start real `polysaga worker` processes that
 * write the audit trail (a fresh stack has no `uds3_saga_events` yet).
 */
import { createAuditPool, migrate } from '../../src/audit/index.js';
import { loadConfig } from '../../src/config/index.js';
import stackSetup from '../helpers/global-setup.js';

export default async function setup(): Promise<void> {
  stackSetup();
  const pool = createAuditPool(loadConfig().postgres, { max: 1 });
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
}
