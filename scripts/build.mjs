// `npm run build`: compiles src/ (and the example services the demo starts) to dist/ as ESM with
// type declarations, bundles the saga workflows once (dist/workflow-bundle.js, loaded by
// createSagaWorker instead of bundling at every worker start), and writes dist/.build-stamp,
// which bin/polysaga compares with src/ to decide whether dist/ is current.
/* global process, console, URL */
// Plain JavaScript so that building needs neither tsx nor a build of itself. It builds into
// dist.new/ and then swaps it in, so a CLI started meanwhile never sees half a dist/.
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = `${root}dist.new`;
const require = createRequire(import.meta.url);

/** Newest modification time (ms) of the files under dir. */
function newest(dir) {
  let max = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    max = Math.max(max, entry.isDirectory() ? newest(path) : statSync(path).mtimeMs);
  }
  return max;
}

// --if-stale (scripts/test.sh, scripts/demo.sh, npm run bench): nothing to do when dist/ is
// newer than src/ — the same test bin/polysaga makes.
if (process.argv.includes('--if-stale')) {
  const stamp = `${root}dist/.build-stamp`;
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newest(`${root}src`)) {
    process.exit(0);
  }
  console.error('[build] dist/ is missing or older than src/: npm run build');
}

rmSync(dist, { recursive: true, force: true });
const tsc = spawnSync(
  process.execPath,
  [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--outDir', dist],
  { cwd: root, stdio: 'inherit' },
);
if (tsc.status !== 0) {
  console.error(`[build] tsc failed (exit ${tsc.status ?? tsc.signal})`);
  process.exit(1);
}

const { bundleWorkflowCode } = await import('@temporalio/worker');
const quiet = () => undefined;
const logger = {
  log: (level, message) => {
    if (level === 'WARN' || level === 'ERROR') console.error(`[build] ${level} ${message}`);
  },
  trace: quiet,
  debug: quiet,
  info: quiet,
  warn: (message) => console.error(`[build] WARN ${message}`),
  error: (message) => console.error(`[build] ERROR ${message}`),
};
// tsc does not copy the CommonJS failure converter of the encrypted data converter.
const failureConverterPath = `${dist}/src/blobs/failure-converter.cjs`;
copyFileSync(`${root}src/blobs/failure-converter.cjs`, failureConverterPath);
const workflowsPath = `${dist}/src/workflows/index.js`;
// polysaga's workflow interceptors (saga fields on workflow log lines) are part of both bundles.
const workflowInterceptorModules = [`${dist}/src/workflows/interceptors.js`];
const { code } = await bundleWorkflowCode({ workflowsPath, logger, workflowInterceptorModules });
writeFileSync(`${dist}/workflow-bundle.js`, code);
// The same workflows with the failure converter that encodes failure messages (payload encryption on).
const encoded = await bundleWorkflowCode({
  workflowsPath,
  logger,
  workflowInterceptorModules,
  failureConverterPath,
});
writeFileSync(`${dist}/workflow-bundle-encoded.js`, encoded.code);
writeFileSync(`${dist}/.build-stamp`, `${new Date().toISOString()}\n`);
rmSync(`${root}dist`, { recursive: true, force: true });
renameSync(dist, `${root}dist`);
console.error(`[build] dist/ ready (workflow bundle ${(code.length / 1024 / 1024).toFixed(1)} MB)`);
