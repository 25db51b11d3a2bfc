/**
 * `polysaga verify` (the consistency checker) against the real servers of the local stack:
 * zero residue for both example sagas (document-ingest: PostgreSQL, Neo4j, Chroma, S3;
 * wiki-generation: the example HTTP services started in-process), and residue detected when a
 * compensation is deliberately broken (test hook and an inline no-op compensation), through the
 * library (report rows) and the CLI (exit code, --json).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createAuditPool, migrate } from '../../src/audit/index.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { builtinCatalog } from '../../src/backends/catalog.js';
import { assertValidDefinition } from '../../src/saga/validate.js';
import { createBackendResources } from '../../src/workers/index.js';
import {
  deriveTargets,
  instantiateRun,
  rewriteTokens,
  verifyDefinition,
  type VerifyReport,
} from '../../src/verify/index.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const example = (name: string): unknown =>
  JSON.parse(readFileSync(join(root, 'examples', name), 'utf8')) as unknown;
const bin = join(root, 'bin', 'polysaga');
/** Step ids of an example (the examples may grow; the tests follow them). */
const stepIds = (name: string): string[] =>
  (example(name) as { steps: { id: string }[] }).steps.map((s) => s.id);

let dir: string;
let setup: string[];
let config: Config;
/** Residue the tests leave on purpose (broken compensations), removed in afterAll. */
const leftBehind: VerifyReport[] = [];

async function removeResidue(reports: VerifyReport[]): Promise<void> {
  const res = await createBackendResources(config);
  try {
    for (const x of reports.flatMap((r) => r.rows.flatMap((row) => row.residue))) {
      if (x.backend === 'kv') await res.redis.del(x.target.replace(/^kv /, ''));
      else if (x.backend === 'vector' && Array.isArray(x.after)) {
        const collection = /^vector (\S+) /.exec(x.target)?.[1] ?? 'documents';
        await res.vector.delete(
          collection,
          (x.after as { id: string }[]).map((p) => p.id),
        );
      }
    }
  } finally {
    await res.close();
  }
}

function expectClean(report: VerifyReport, steps: number): void {
  expect(report.rows.map((r) => r.position)).toEqual(Array.from({ length: steps + 1 }, (_, k) => k));
  for (const r of report.rows) {
    expect(r.error, `position ${r.position}`).toBeUndefined();
    expect(r.residue, `position ${r.position}`).toEqual([]);
    expect(r.state).toBe(r.position < steps ? 'ROLLED_BACK' : 'COMMITTED → ROLLED_BACK');
    expect(r.ok).toBe(true);
  }
  // The snapshot sees every write of the commit run (otherwise "no residue" would prove nothing).
  expect(report.rows.at(-1)!.unobserved).toEqual([]);
  expect(report.ok).toBe(true);
}

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { cwd: root, env: process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

beforeAll(async () => {
  // The in-process workers log every injected failure and rollback; keep the test output readable.
  Runtime.install({
    logger: new DefaultLogger(
      'ERROR',
      (e) => e.meta?.sdkComponent !== 'workflow' && console.error(e.message),
    ),
  });
  config = loadConfig();
  const pool = createAuditPool(config.postgres);
  try {
    await migrate(pool);
  } finally {
    await pool.end();
  }
  dir = mkdtempSync(join(tmpdir(), 'polysaga-verify-test-'));
  // The documents table (examples/setup.sql) and the Collection node the example relates to.
  setup = [join(root, 'examples', 'setup.sql'), join(root, 'examples', 'setup.cypher')];
});
afterAll(async () => {
  if (leftBehind.length > 0) await removeResidue(leftBehind);
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('per-run instantiation and targets (no servers)', () => {
  it('rewrites the saga id everywhere, keeps other strings, makes the identity key unique, fills {{run}}', () => {
    const def = example('document-ingest.json');
    const tokens = rewriteTokens(def);
    // ${sagaId} placeholders are filled first: the identity key's id part is the saga id.
    expect(tokens).toEqual(['doc-42']);
    const run = instantiateRun(def, 'v3-abcdef', tokens);
    expect(run.sagaId).toBe('doc-42-v3-abcdef');
    const text = JSON.stringify(run.definition);
    expect(text).not.toMatch(/doc-42(?!-v3-abcdef)/);
    expect(text).toContain('"documents/doc-42-v3-abcdef/report.txt"');
    expect(text).toContain('"doc-42-v3-abcdef-1"');
    expect(text).toContain('"reports"'); // the shared Collection node is not rewritten
    expect(text).not.toContain('${sagaId}');
    expect(run.definition.identityKey).toBe('document:doc-42-v3-abcdef');
    expect(run.definition.traceId).toBe('trace-doc-42-v3-abcdef');

    const wiki = instantiateRun(
      example('wiki-generation.json'),
      'v0-000001',
      rewriteTokens(example('wiki-generation.json')),
    );
    expect(JSON.stringify(wiki.definition)).toContain('"proj-123-v0-000001"');
    expect(wiki.definition.identityKey).toBe('wiki:proj-123-v0-000001');

    const placeholder = instantiateRun(
      { name: 'p', steps: [{ payload: { key: 'k:{{run}}' } }] },
      'v1-aaaaaa',
      [],
    );
    expect(placeholder.sagaId).toBe('p-verify-v1-aaaaaa');
    expect(placeholder.definition.steps).toEqual([{ payload: { key: 'k:v1-aaaaaa' } }]);
  });

  it('derives one snapshot target per touched entity of document-ingest', () => {
    const def = assertValidDefinition(
      instantiateRun(example('document-ingest.json'), 'v0-abcdef', ['doc-42']).definition,
      builtinCatalog,
    );
    const plan = deriveTargets(def, builtinCatalog, { defaultBucket: 'polysaga' });
    expect(plan.unchecked).toEqual([]);
    expect(plan.targets.map((t) => t.spec.kind)).toEqual([
      'pg-row',
      'neo4j-node',
      'neo4j-rel',
      'vector-points',
      's3-object',
    ]);
    expect(plan.targets[0]!.id).toBe('postgres documents {"id":"doc-42-v0-abcdef"}');
    expect(plan.targets[4]!.id).toBe('s3 s3://polysaga/documents/doc-42-v0-abcdef/report.txt');
  });
});

describe('verify against the real servers', () => {
  it('document-ingest: N+1 runs (every failure position + commit/undo), zero residue', async () => {
    const ids = stepIds('document-ingest.json');
    const report = await verifyDefinition(example('document-ingest.json'), { config, setup });
    expectClean(report, ids.length);
    expect(report.rows.map((r) => r.failedStep)).toEqual([...ids, null]);
    expect(report.rows.every((r) => r.targets >= 5)).toBe(true); // row, node, relationship, chunks, object
  });

  it('wiki-generation example (HTTP services started in-process): zero residue', async () => {
    const report = await verifyDefinition(example('wiki-generation.json'), {
      config: { ...config, http: { services: {} } },
    });
    expect(report.startedServices).toEqual(['files', 'git']);
    expectClean(report, stepIds('wiki-generation.json').length);
  });

  it("a wiki saga in the services' API shape (two files, then a git snapshot): zero residue", async () => {
    const save = (id: string, path: string) => ({
      id,
      backend: 'http',
      operation: 'request',
      payload: {
        service: 'files',
        method: 'POST',
        path: '/save_file',
        userId: 'user-456',
        body: { project_id: 'proj-{{run}}', file_path: path, content: `# ${path}` },
        undo: { method: 'DELETE', path: `/file/proj-{{run}}/${path}` },
      },
      compensation: 'http_request',
    });
    const def = {
      name: 'wiki-verify',
      identityKey: 'wiki:verify-{{run}}',
      steps: [
        save('index', 'wiki/index.md'),
        save('architecture', 'wiki/architecture.md'),
        {
          id: 'git-snapshot',
          backend: 'http',
          operation: 'request',
          payload: {
            service: 'git',
            method: 'POST',
            path: '/snapshot/proj-{{run}}',
            userId: 'user-456',
            body: { user_id: 'user-456', message: 'Generated wiki' },
            undo: { method: 'DELETE', path: '/snapshot/proj-{{run}}/{{result.body.snapshot_id}}' },
          },
          compensation: 'http_request',
        },
      ],
    };
    const report = await verifyDefinition(def, { config: { ...config, http: { services: {} } } });
    expect(report.startedServices).toEqual(['files', 'git']);
    expectClean(report, 3);
  });

  it('detects residue when a compensation is broken (test hook: a no-op that reports success)', async () => {
    const ids = stepIds('document-ingest.json');
    const chunks = ids.indexOf('chunks');
    expect(chunks).toBeGreaterThanOrEqual(0);
    const report = await verifyDefinition(example('document-ingest.json'), {
      config,
      setup,
      positions: [chunks, chunks + 1, ids.length],
      breakCompensations: ['chunks'],
    });
    leftBehind.push(report);
    expect(report.ok).toBe(false);
    const [p3, p4, p5] = report.rows;
    // Position `chunks`: the chunks step itself fails, so it never wrote anything.
    expect(p3).toMatchObject({
      position: chunks,
      failedStep: 'chunks',
      state: 'ROLLED_BACK',
      residue: [],
      ok: true,
    });
    for (const r of [p4!, p5!]) {
      expect(r.ok).toBe(false);
      expect(r.residue).toHaveLength(1);
      expect(r.residue[0]).toMatchObject({ backend: 'vector', stepIds: ['chunks'], before: null });
      expect(r.residue[0]!.target).toMatch(
        /^vector documents ids \["doc-42-v\d-[0-9a-f]{6}-0","doc-42-v\d-[0-9a-f]{6}-1"\]$/,
      );
      expect(r.residue[0]!.after).toHaveLength(2);
    }
    expect(p4!.state).toBe('ROLLED_BACK');
    expect(p5!.state).toBe('COMMITTED → ROLLED_BACK');
  });
  it('reports a compensation that keeps failing: the saga ends FAILED, verify resolves it and shows the residue', async () => {
    const def = {
      name: 'verify-failing-undo',
      steps: [
        {
          id: 'flag',
          backend: 'kv',
          operation: 'set',
          payload: { key: 'verify-fail:{{run}}', value: 'x' },
          // The undo targets a bucket that does not exist: a permanent failure.
          compensation: {
            backend: 's3',
            operation: 'delete_object',
            payload: { bucket: 'no-such-bucket-verify', key: 'k-{{run}}' },
          },
        },
        { id: 'two', backend: 'kv', operation: 'set', payload: { key: 'verify-fail2:{{run}}', value: 'y' } },
      ],
    };
    const report = await verifyDefinition(def, { config, positions: [1] });
    leftBehind.push(report);
    expect(report.ok).toBe(false);
    const [row] = report.rows;
    expect(row).toMatchObject({ position: 1, failedStep: 'two', state: 'FAILED', ok: false });
    expect(row!.error).toMatch(/saga ended FAILED: .*compensation flag: polysaga\.NotFound/);
    expect(row!.residue.map((r) => [r.backend, r.stepIds, r.before, r.after])).toEqual([
      ['kv', ['flag'], null, { value: 'x', expires: false }],
    ]);
  });
});

describe('polysaga verify (CLI)', () => {
  it('exits 1 and reports residue for a definition whose compensation is an inline no-op', async () => {
    const file = join(dir, `broken-${randomUUID().slice(0, 8)}.json`);
    writeFileSync(
      file,
      JSON.stringify({
        name: 'verify-broken',
        steps: [
          {
            id: 'flag',
            backend: 'kv',
            operation: 'set',
            payload: { key: 'verify-test:{{run}}:flag', value: 'on' },
            // "Undoes" by deleting a key that was never written: reports success, leaves the flag.
            compensation: { operation: 'delete', payload: { key: 'verify-test:{{run}}:unrelated' } },
          },
          {
            id: 'counter',
            backend: 'kv',
            operation: 'set',
            payload: { key: 'verify-test:{{run}}:counter', value: '1' },
          },
        ],
      }),
    );
    const { code, stdout, stderr } = await runCli(['verify', file, '--json']);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/residue left behind at position\(s\) 1, 2/);
    const report = JSON.parse(stdout) as VerifyReport;
    leftBehind.push(report);
    expect(report.rows.map((r) => [r.position, r.state, r.residue.map((x) => x.backend)])).toEqual([
      [0, 'ROLLED_BACK', []],
      [1, 'ROLLED_BACK', ['kv']],
      [2, 'COMMITTED → ROLLED_BACK', ['kv']],
    ]);
    expect(report.rows[1]!.residue[0]).toMatchObject({
      before: null,
      after: { value: 'on', expires: false },
    });
    expect(report.rows[1]!.residue[0]!.target).toMatch(/^kv verify-test:v1-[0-9a-f]{6}:flag$/);
  });

  it('exits 0 with a table for document-ingest (setup files via --setup)', async () => {
    const { code, stdout, stderr } = await runCli([
      'verify',
      'examples/document-ingest.json',
      '--setup',
      setup[0]!,
      '--setup',
      setup[1]!,
    ]);
    expect(code, stderr).toBe(0);
    expect(stdout).toMatch(/^position\s+failure injected at\s+state reached\s+residue$/m);
    const n = stepIds('document-ingest.json').length;
    expect(stdout).toMatch(
      new RegExp(`^${n}/${n}\\s+\\(none: commit, then undo\\)\\s+COMMITTED → ROLLED_BACK\\s+none$`, 'm'),
    );
    expect(stdout).toContain(`document-ingest: ${n + 1} runs, 0 with residue, 0 not ok`);
  });

  it('exits 2 for an invalid definition, naming the step and field', async () => {
    const file = join(dir, 'invalid.json');
    writeFileSync(
      file,
      JSON.stringify({ name: 'bad', steps: [{ id: 's', backend: 'kv', operation: 'nope', payload: {} }] }),
    );
    const { code, stderr } = await runCli(['verify', file]);
    expect(code).toBe(2);
    expect(stderr).toMatch(/unknown operation "nope"/);
  });
});
