/**
 * The example plugin (examples/plugins/sqlite.ts) end to end, as a user drives it: a real
 * `polysaga worker --plugin` process on its own task queue, `polysaga start|validate|verify
 * --plugin`, a real SQLite file and the real stack. A committed saga leaves its SQLite record; a
 * failing one is rolled back, its SQLite record deleted and its postgres row soft-deleted by the
 * plugin's custom compensation; without the plugin the CLI refuses the definition; verify finds
 * no residue through the plugin's snapshot.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config/index.js';
import { polysaga, startWorker } from '../helpers/cli.js';

const config = loadConfig();
const run = randomUUID().slice(0, 8);
const dir = mkdtempSync(join(tmpdir(), 'polysaga-e2e-plugins-'));
const sqliteFile = join(dir, 'example.sqlite');
const PLUGIN = 'examples/plugins/sqlite.ts';
const env = { TEMPORAL_TASK_QUEUE: `polysaga-e2e-plugins-${run}`, SQLITE_PATH: sqliteFile };
let pool: pg.Pool;
let worker: Awaited<ReturnType<typeof startWorker>>;

const archiveNote = JSON.parse(readFileSync('examples/plugins/archive-note.json', 'utf8')) as {
  steps: Record<string, unknown>[];
};

function sqliteRecord(collection: string, id: string): unknown {
  const db = new Database(sqliteFile, { readonly: true });
  try {
    const row = db.prepare('SELECT data FROM records WHERE collection = ? AND id = ?').get(collection, id) as
      { data: string } | undefined;
    return row ? (JSON.parse(row.data) as unknown) : null;
  } finally {
    db.close();
  }
}

beforeAll(async () => {
  pool = new pg.Pool({ ...config.postgres, max: 2 });
  await pool.query(readFileSync('examples/plugins/setup.sql', 'utf8'));
  worker = await startWorker(env, ['--plugin', PLUGIN]);
}, 120_000);

afterAll(async () => {
  await worker?.stop();
  await pool?.query(`DELETE FROM plugin_archive WHERE id LIKE $1`, [`%-${run}`]);
  await pool?.end();
});

describe('polysaga worker --plugin (examples/plugins/sqlite.ts)', () => {
  it('the worker names the plugin, its backend and its compensation when it starts', () => {
    expect(worker.log()).toContain('plugins sqlite-example (sqlite, postgres_mark_deleted)');
  });

  it('start --plugin of the example definition: COMMITTED, the SQLite record and the postgres row exist', async () => {
    const sagaId = `archive-ok-${run}`;
    const r = await polysaga(
      [
        'start',
        '--plugin',
        PLUGIN,
        'examples/plugins/archive-note.json',
        '--saga-id',
        sagaId,
        '--wait',
        '--json',
      ],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { state: string }).state).toBe('COMMITTED');
    expect(sqliteRecord('notes', sagaId)).toEqual({ title: 'Meeting notes', archived: true });
    const rows = await pool.query('SELECT title, deleted_at FROM plugin_archive WHERE id = $1', [sagaId]);
    expect(rows.rows).toEqual([{ title: 'Meeting notes', deleted_at: null }]);
  });

  it('a failing variant: ROLLED_BACK, the SQLite record is gone, postgres_mark_deleted soft-deleted the row', async () => {
    const sagaId = `archive-fail-${run}`;
    // A third step inserts the same SQLite record again: a constraint violation, permanent.
    const failing = {
      ...archiveNote,
      sagaId,
      steps: [...archiveNote.steps, { ...archiveNote.steps[1], id: 'note-again' }],
    };
    const file = join(dir, 'archive-fail.json');
    writeFileSync(file, JSON.stringify(failing));
    const r = await polysaga(['start', '--plugin', PLUGIN, file, '--wait', '--json'], env);
    expect(r.code, r.stderr).toBe(1);
    const status = JSON.parse(r.stdout) as { state: string; failedAt: string; error: string };
    expect(status.state).toBe('ROLLED_BACK');
    expect(status.failedAt).toBe('note-again');
    expect(status.error).toMatch(/SQLITE_CONSTRAINT/);
    // sqlite_delete undid the first insert; the row is soft-deleted, not deleted.
    expect(sqliteRecord('notes', sagaId)).toBeNull();
    const rows = await pool.query<{ deleted: boolean }>(
      'SELECT deleted_at IS NOT NULL AS deleted FROM plugin_archive WHERE id = $1',
      [sagaId],
    );
    expect(rows.rows).toEqual([{ deleted: true }]);
    const trail = await pool.query<{
      status: string;
      step_id: string | null;
      error: string | null;
      attempt: number | null;
      payload: Record<string, unknown>;
    }>(
      'SELECT status, step_id, error, attempt, payload FROM uds3_saga_events WHERE saga_id = $1 ORDER BY seq',
      [sagaId],
    );
    const row = (status: string, step: string) =>
      trail.rows.find((e) => e.status === status && e.step_id === step);
    const events = trail.rows.map((e) => `${e.status}${e.step_id ? ` ${e.step_id}` : ''}`);
    expect(events).toContain('STEP_FAIL note-again');
    expect(events).toContain('COMPENSATION_SUCCESS note');
    expect(events).toContain('COMPENSATION_SUCCESS archive');
    expect(events.at(-1)).toBe('SAGA_ROLLED_BACK');
    // Newest first: the SQLite record is deleted before the postgres row is marked.
    expect(events.indexOf('COMPENSATION_SUCCESS note')).toBeLessThan(
      events.indexOf('COMPENSATION_STARTED archive'),
    );
    // The constraint violation is permanent: one attempt, no retry.
    expect(row('STEP_FAIL', 'note-again')).toMatchObject({ attempt: 1 });
    expect(row('STEP_FAIL', 'note-again')?.error).toMatch(
      /^polysaga\.ConstraintViolation: sqlite\.insert: UNIQUE constraint failed: records\.collection, records\.id/,
    );
    expect(row('COMPENSATION_STARTED', 'archive')?.payload).toEqual({
      compensation: 'postgres_mark_deleted',
    });
    expect(row('COMPENSATION_SUCCESS', 'archive')?.payload).toEqual({ outcome: 'undone' });
    expect(row('COMPENSATION_STARTED', 'note')?.payload).toEqual({ compensation: 'sqlite_delete' });
  });

  it('start of a definition using the custom compensation is accepted with the plugin, refused without (exit 2, naming the field)', async () => {
    const sagaId = `archive-accept-${run}`;
    const accepted = await polysaga(
      ['start', '--plugin', PLUGIN, 'examples/plugins/archive-note.json', '--saga-id', sagaId, '--json'],
      env,
    );
    expect(accepted.code, accepted.stderr).toBe(0);
    expect((JSON.parse(accepted.stdout) as { sagaId: string }).sagaId).toBe(sagaId);

    const refused = await polysaga(
      ['start', 'examples/plugins/archive-note.json', '--saga-id', `archive-refused-${run}`],
      env,
    );
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain(
      'step "archive" (steps[0]) field "compensation": unknown compensation "postgres_mark_deleted"',
    );
    expect(refused.stderr).toContain('step "note" (steps[1]) field "backend": unknown backend "sqlite"');
    // Through POLYSAGA_PLUGINS instead of --plugin: accepted by validate.
    const validated = await polysaga(['validate', 'examples/plugins/archive-note.json'], {
      ...env,
      POLYSAGA_PLUGINS: PLUGIN,
    });
    expect(validated.code, validated.stderr).toBe(0);
    expect(validated.stdout).toContain('valid: archive-note, 2 steps');
  });

  it('a plugin that cannot be loaded is refused with exit 2, naming its path', async () => {
    const r = await polysaga(
      ['validate', '--plugin', 'examples/plugins/missing.ts', 'examples/plugins/archive-note.json'],
      env,
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('plugin examples/plugins/missing.ts: file not found');
  });

  it('verify --plugin: every position rolls back with zero residue, read through the plugin snapshot', async () => {
    const r = await polysaga(
      ['verify', '--plugin', PLUGIN, 'examples/plugins/sqlite-note.json', '--json'],
      env,
      300_000,
    );
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const report = JSON.parse(r.stdout) as {
      ok: boolean;
      unchecked: string[];
      rows: { position: number; state: string; targets: number; residue: unknown[]; unobserved?: string[] }[];
    };
    expect(report.ok).toBe(true);
    expect(report.unchecked).toEqual([]);
    expect(report.rows.map((row) => row.state)).toEqual([
      'ROLLED_BACK',
      'ROLLED_BACK',
      'ROLLED_BACK',
      'COMMITTED → ROLLED_BACK',
    ]);
    for (const row of report.rows) expect(row.residue).toEqual([]);
    // Three targets (two SQLite records, one Redis key), each seen to change when the saga committed.
    const commit = report.rows[3]!;
    expect(commit.targets).toBe(3);
    expect(commit.unobserved).toEqual([]);
  }, 300_000);
});
