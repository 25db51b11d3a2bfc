/**
 * Debian's chromium for the Web UI browser test, driven by playwright-core. Installed on first
 * use through `scripts/stack/stack.sh install-browser` (apt-get, idempotent; about 30 s on a
 * fresh machine), or taken from POLYSAGA_CHROMIUM_BIN.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const STACK_SH = fileURLToPath(new URL('../../scripts/stack/stack.sh', import.meta.url));

/** The chromium binary, installed when missing. @throws naming what failed. */
export function ensureChromium(): string {
  const bin = process.env.POLYSAGA_CHROMIUM_BIN ?? '/usr/bin/chromium';
  if (existsSync(bin)) return bin;
  if (process.env.POLYSAGA_CHROMIUM_BIN) throw new Error(`POLYSAGA_CHROMIUM_BIN=${bin}: no such file`);
  const r = spawnSync('bash', [STACK_SH, 'install-browser'], { encoding: 'utf8', stdio: 'inherit' });
  if (r.status !== 0 || !existsSync(bin))
    throw new Error(`chromium is missing and \`stack.sh install-browser\` failed (exit ${r.status})`);
  return bin;
}
