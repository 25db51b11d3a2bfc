/**
 * The npm package as a user gets it: `npm pack` (of a current dist/), `npm install <tarball>`
 * into a fresh project, `import { SagaClient, createSagaWorker } from 'polysaga'`, a worker on
 * its own task queue (the prebuilt workflow bundle, no bundler output) and one saga with a
 * postgres step, COMMITTED, with its row in PostgreSQL. Also the installed `polysaga` bin.
 * Dependencies are installed from the npm cache where it has them (--prefer-offline).
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';

const run = promisify(execFile);
const root = fileURLToPath(new URL('../..', import.meta.url));
const config = loadConfig();
const id = randomUUID().slice(0, 8);
const table = `e2e_pkg_${id}`;
const taskQueue = `polysaga-e2e-pkg-${id}`;
const dir = mkdtempSync(join(tmpdir(), 'polysaga-pkg-'));
const app = join(dir, 'app');
let pool: pg.Pool;

// The application a user writes: only the package's public entry point.
const appScript = `
import { existsSync } from 'node:fs';
import { SagaClient, createSagaWorker, connectTemporalClient, loadConfig, migrate, storeGuard, WORKFLOW_BUNDLE_PATH } from 'polysaga';

const [table, taskQueue, sagaId] = process.argv.slice(2);
const config = loadConfig();
const worker = await createSagaWorker({ config, taskQueue });
await migrate(worker.resources.pool);
const running = worker.run();
const { client, close } = await connectTemporalClient(config);
try {
  const sagas = new SagaClient({ client, taskQueue, limits: config.limits, guard: storeGuard(config) });
  const result = await sagas.executeSaga({
    name: 'package-test',
    sagaId,
    steps: [
      { id: 'row', backend: 'postgres', operation: 'insert', payload: { table, values: { id: sagaId, title: 'from the package' } } },
    ],
  });
  console.log(JSON.stringify({ state: result.status.state, bundle: existsSync(WORKFLOW_BUNDLE_PATH), bundlePath: WORKFLOW_BUNDLE_PATH }));
} finally {
  await close();
  await worker.shutdown();
  await running;
}
`;

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text)`);
  // A current dist/ (builds only when src/ changed), then the tarball exactly as npm would publish it.
  await run(process.execPath, ['scripts/build.mjs', '--if-stale'], { cwd: root });
  await run('npm', ['pack', '--ignore-scripts', '--pack-destination', dir], { cwd: root });
  const tarball = readdirSync(dir).find((f) => f.endsWith('.tgz'));
  if (!tarball) throw new Error(`npm pack wrote no tarball into ${dir}`);
  await run('mkdir', [app]);
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, type: 'module' }));
  writeFileSync(join(app, 'app.js'), appScript);
  await run('npm', ['install', join(dir, tarball), '--prefer-offline', '--no-audit', '--no-fund'], {
    cwd: app,
    maxBuffer: 16 * 1024 * 1024,
  });
}, 300_000);

afterAll(async () => {
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
  rmSync(dir, { recursive: true, force: true });
});

describe('the npm package', () => {
  it('runs a saga from an application that installed the tarball', async () => {
    const sagaId = `e2e-pkg-${id}`;
    const { stdout, stderr } = await run(process.execPath, ['app.js', table, taskQueue, sagaId], {
      cwd: app,
      env: { ...process.env, TEMPORAL_TASK_QUEUE: taskQueue },
      timeout: 120_000,
    });
    const out = JSON.parse(stdout.trim().split('\n').pop() ?? '{}') as {
      state?: string;
      bundle?: boolean;
      bundlePath?: string;
    };
    expect(out.state).toBe('COMMITTED');
    // The worker loaded the prebuilt bundle from the installed package and printed no webpack output.
    expect(out.bundle).toBe(true);
    expect(out.bundlePath).toContain(join(app, 'node_modules', 'polysaga', 'dist'));
    expect(stderr).not.toMatch(/webpack|asset workflow-bundle|modules by path/i);
    const rows = await pool.query(`SELECT title FROM ${table} WHERE id = $1`, [sagaId]);
    expect(rows.rows).toEqual([{ title: 'from the package' }]);
  });

  it('gives TypeScript users the declarations of every entry point', async () => {
    writeFileSync(
      join(app, 'check.ts'),
      [
        "import { SagaClient, createSagaWorker, loadConfig, type SagaDefinition, type SagaStatus } from 'polysaga';",
        "import { SagaClient as ClientOnly } from 'polysaga/client';",
        "import { createSagaWorker as WorkerOnly } from 'polysaga/worker';",
        "import { definePlugin, defineBackend, registerCompensation, getCompensation } from 'polysaga/plugin';",
        "const def: SagaDefinition = { name: 'typed', steps: [{ id: 'a', backend: 'kv', operation: 'set', payload: { key: 'k', value: 'v' } }] };",
        'const state = (s: SagaStatus): string => s.state;',
        'export const used = [SagaClient, createSagaWorker, loadConfig, ClientOnly, WorkerOnly, def, state, definePlugin, defineBackend, registerCompensation, getCompensation];',
        '',
      ].join('\n'),
    );
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: [],
        },
        files: ['check.ts'],
      }),
    );
    const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
    const r = await run(process.execPath, [tsc, '-p', app]).then(
      () => ({ code: 0, out: '' }),
      (err: { code?: number; stdout?: string }) => ({ code: err.code ?? -1, out: err.stdout ?? '' }),
    );
    expect(r.out).toBe('');
    expect(r.code).toBe(0);
  });

  it('installs a working polysaga command', async () => {
    const bin = join(app, 'node_modules', '.bin', 'polysaga');
    const help = await run(bin, ['--help'], { cwd: app });
    expect(help.stdout).toContain('Usage: polysaga');
    // Runs the compiled CLI: the example definition shipped with the package validates.
    const def = join(app, 'node_modules', 'polysaga', 'examples', 'document-ingest.json');
    const validated = await run(bin, ['validate', def, '--json'], { cwd: app });
    expect((JSON.parse(validated.stdout) as { sagaId: string }).sagaId).toBe('doc-42');
  });
});
