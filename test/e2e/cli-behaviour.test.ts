/**
 * A CLI that behaves (issue 10, part 6), against a real `polysaga worker` process and the stack:
 *
 * - a closed pipe (`polysaga list | head -1`) ends the command quietly with exit 0, no stack trace;
 * - with `--json`, errors are one JSON object on stderr, for every command (unknown saga, usage);
 * - the text `status` of a FAILED saga names the failing compensation's cause, and a retried
 *   round that fails again replaces the error text instead of nesting it; the compensation's
 *   audit rows carry attempt and duration_ms;
 * - `${sagaId}` in payloads follows the saga id: examples/document-ingest.json started twice
 *   with two `--saga-id`s commits twice, with two distinct rows.
 */
import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import neo4j from 'neo4j-driver';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { POLYSAGA_BIN, polysaga, startWorker, type CliResult } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().replace(/-/g, '').slice(0, 8);
const env = { TEMPORAL_TASK_QUEUE: `polysaga-e2e-clib-${run}` };
const table = `e2e_clib_${run}`;
const dir = mkdtempSync(join(tmpdir(), 'polysaga-e2e-clib-'));
const examples = fileURLToPath(new URL('../../examples/', import.meta.url));
const toResolve: string[] = [];
let pool: pg.Pool;
let worker: Awaited<ReturnType<typeof startWorker>>;

const cli = (args: string[]): Promise<CliResult> => polysaga(args, env);

function definitionFile(name: string, def: unknown): string {
  const file = join(dir, `${name}.json`);
  writeFileSync(file, JSON.stringify(def, null, 2));
  return file;
}

/** Runs the CLI with its stdout closed by the reader at once, as `polysaga … | true` does. */
function withClosedStdout(args: string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(POLYSAGA_BIN, args, {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`polysaga ${args.join(' ')} timed out; stderr: ${stderr}`));
    }, 120_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout: '', stderr });
    });
  });
}

interface JsonError {
  error: { code: string; name: string; message: string; exitCode: number; issues?: unknown[] };
}

/** A row whose compensation deletes from a table that does not exist, then a duplicate insert. */
function failingUndo(sagaId: string) {
  return {
    name: `e2e-clib-${run}`,
    sagaId,
    steps: [
      {
        id: 'row',
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: sagaId, title: 'first' } },
        compensation: { operation: 'delete', payload: { table: `${table}_gone`, key: { id: sagaId } } },
      },
      {
        id: 'again',
        backend: 'postgres',
        operation: 'insert',
        // The same key again: a constraint violation, permanent, so the saga unwinds.
        payload: { table, values: { id: sagaId, title: 'second' } },
      },
    ],
  };
}

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  const m = await cli(['migrate']);
  expect(m.code, m.stderr).toBe(0);
  await pool.query(`CREATE TABLE ${table} (id text PRIMARY KEY, title text)`);
  // The example's stores: the documents table and the Collection node it relates to.
  await pool.query(readFileSync(join(examples, 'setup.sql'), 'utf8'));
  const driver = neo4j.driver(config.neo4j.url, neo4j.auth.basic(config.neo4j.user, config.neo4j.password));
  try {
    await driver.executeQuery("MERGE (c:Collection {id: 'reports'}) ON CREATE SET c.name = 'Reports'");
  } finally {
    await driver.close();
  }
  worker = await startWorker(env);
});

afterAll(async () => {
  for (const id of toResolve) await cli(['resolve', id, '--reason', 'e2e cleanup']).catch(() => undefined);
  await worker?.stop();
  await pool?.query(`DROP TABLE IF EXISTS ${table}`);
  await pool?.end();
});

describe('a CLI that behaves', () => {
  it('a closed pipe ends list, status, events and --help quietly with exit 0', async () => {
    const sagaId = `e2e-clib-ok-${run}`;
    const def = {
      name: `e2e-clib-${run}`,
      sagaId,
      steps: Array.from({ length: 20 }, (_, i) => ({
        id: `row-${i}`,
        backend: 'postgres',
        operation: 'insert',
        payload: { table, values: { id: `${sagaId}-${i}`, title: 'x'.repeat(200) } },
      })),
    };
    const s = await cli(['start', definitionFile('ok', def), '--wait']);
    expect(s.code, s.stderr).toBe(0);
    for (const args of [
      ['list', '--limit', '1000'],
      ['status', sagaId],
      ['status', sagaId, '--json'],
      ['events', sagaId],
      ['events', sagaId, '--json'],
      ['--help'],
    ]) {
      const r = await withClosedStdout(args);
      expect(r.stderr, args.join(' ')).not.toMatch(/EPIPE|Error|at .*\.ts:\d+/);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
  });

  it('with --json, errors are one JSON object on stderr for every command', async () => {
    const missing = `no-such-saga-${run}`;
    for (const args of [
      ['status', missing, '--json'],
      ['events', missing, '--json'],
      ['abort', missing, '--json'],
      ['compensate', missing, '--json'],
      ['retry', missing, '--json'],
      ['resolve', missing, '--reason', 'x', '--json'],
    ]) {
      const r = await cli(args);
      expect(r.code, args.join(' ')).toBe(3);
      expect(r.stdout).toBe('');
      const lines = r.stderr.trim().split('\n');
      expect(lines, args.join(' ')).toHaveLength(1);
      const e = JSON.parse(lines[0]!) as JsonError;
      expect(e.error).toMatchObject({ code: 'NOT_FOUND', exitCode: 3 });
      expect(e.error.message).toContain(missing);
    }
    // A usage error (missing argument) and an invalid definition are JSON too.
    const usage = await cli(['status', '--json']);
    expect(usage.code).toBe(2);
    expect((JSON.parse(usage.stderr) as JsonError).error).toMatchObject({ code: 'INVALID', exitCode: 2 });
    const bad = definitionFile('bad', { name: 'bad', steps: [{ id: 'x', backend: 'postgres' }] });
    for (const command of ['validate', 'start']) {
      const r = await cli([command, bad, '--json']);
      expect(r.code).toBe(2);
      const e = JSON.parse(r.stderr) as JsonError;
      expect(e.error.code).toBe('INVALID');
      expect(e.error.issues?.length).toBeGreaterThan(0);
    }
    // Without --json the error stays one line of text.
    const text = await cli(['status', missing]);
    expect(text.stderr.trim()).toBe(`polysaga: saga not found: ${missing}`);
  });

  it("status names the failing compensation's cause; a retry that fails again does not nest the error", async () => {
    const sagaId = `e2e-clib-failed-${run}`;
    toResolve.push(sagaId);
    const s = await cli(['start', definitionFile('failed', failingUndo(sagaId)), '--wait']);
    expect(s.code, s.stderr).toBe(1);

    const text = await cli(['status', sagaId]);
    expect(text.code, text.stderr).toBe(0);
    const lines = text.stdout.split('\n');
    expect(lines[0]).toMatch(new RegExp(`^saga ${sagaId} \\(.*\\): FAILED`));
    // The step table names the compensation's cause in the row's error column ...
    expect(lines.find((l) => l.startsWith('row '))).toMatch(
      /COMPENSATION_FAILED .*compensation: .*(does not exist|42P01)/,
    );
    // ... and the failures list names each failed step and compensation with its cause.
    expect(text.stdout).toMatch(/failures:\n {2}step again: .*(duplicate key|ConstraintViolation)/);
    expect(text.stdout).toMatch(/ {2}compensation row: .*(does not exist|42P01)/);

    for (let round = 0; round < 2; round++) {
      const r = await cli(['retry', sagaId, '--wait', '--json']);
      expect(r.code, r.stderr).toBe(1);
      const end = JSON.parse(r.stdout) as { state: string; error: string };
      expect(end.state).toBe('FAILED');
      expect(end.error.match(/compensation failed for/g)).toHaveLength(1);
      expect(end.error).toMatch(
        /^compensation failed for: row \(after: [^()]*(duplicate key|ConstraintViolation)/,
      );
    }
    const again = await cli(['status', sagaId]);
    expect(again.stdout).toMatch(/compensation row \(failed 3 times, latest\): .*(does not exist|42P01)/);
    // The audit trail: every SAGA_FAILED says the same, each compensation row has attempt and duration.
    const rows = await pool.query<{
      status: string;
      error: string | null;
      attempt: number | null;
      duration_ms: number | null;
    }>('SELECT status, error, attempt, duration_ms FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq', [
      sagaId,
    ]);
    const failed = rows.rows.filter((r) => r.status === 'SAGA_FAILED').map((r) => r.error);
    expect(failed).toHaveLength(3);
    expect(new Set(failed).size).toBe(1);
    const undo = rows.rows.filter((r) => r.status === 'COMPENSATION_FAIL');
    expect(undo).toHaveLength(3);
    for (const r of undo) {
      expect(r.attempt).toBeGreaterThanOrEqual(1);
      expect(r.duration_ms).not.toBeNull();
    }
    expect(rows.rows.find((r) => r.status === 'STEP_FAIL')?.attempt).toBe(1);

    const resolved = await cli(['resolve', sagaId, '--reason', 'row deleted by hand', '--json']);
    expect(resolved.code, resolved.stderr).toBe(0);
    expect((JSON.parse(resolved.stdout) as { state: string }).state).toBe('RESOLVED');
  });

  it('${sagaId} in payloads: the example started twice under two saga ids commits twice', async () => {
    const ids = [`doc-e2e-${run}-a`, `doc-e2e-${run}-b`];
    const example = join(examples, 'document-ingest.json');
    for (const id of ids) {
      const r = await cli(['start', example, '--saga-id', id, '--wait', '--json']);
      expect(r.code, r.stderr).toBe(0);
      const status = JSON.parse(r.stdout) as { state: string; identityKey: string; traceId: string };
      expect(status.state).toBe('COMMITTED');
      expect(status.identityKey).toBe(`document:${id}`);
      expect(status.traceId).toBe(`trace-${id}`);
    }
    const rows = await pool.query<{ id: string }>('SELECT id FROM documents WHERE id = ANY($1) ORDER BY id', [
      ids,
    ]);
    expect(rows.rows.map((r) => r.id)).toEqual(ids);
    // The audit trail and idempotency keys see the substituted values.
    const started = await pool.query<{ payload: unknown }>(
      "SELECT payload FROM uds3_saga_events WHERE saga_id = $1 AND status = 'STEP_SUCCESS' AND step_id = 'original'",
      [ids[1]],
    );
    expect(JSON.stringify(started.rows)).not.toContain('${sagaId}');

    // Undo both (compensate --json --wait): the rows go; compensation rows carry attempt and duration.
    for (const id of ids) {
      const r = await cli(['compensate', id, '--wait', '--json']);
      expect(r.code, r.stderr).toBe(0);
      expect((JSON.parse(r.stdout) as { state: string }).state).toBe('ROLLED_BACK');
    }
    const left = await pool.query('SELECT 1 FROM documents WHERE id = ANY($1)', [ids]);
    expect(left.rowCount).toBe(0);
    const undo = await pool.query<{ attempt: number | null; duration_ms: number | null }>(
      "SELECT attempt, duration_ms FROM uds3_saga_events WHERE saga_id = $1 AND status = 'COMPENSATION_SUCCESS'",
      [ids[0]],
    );
    expect(undo.rowCount).toBe(5);
    for (const r of undo.rows) {
      expect(r.attempt).toBe(1);
      expect(r.duration_ms).not.toBeNull();
    }
  });
});
