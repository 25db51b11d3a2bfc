/**
 * `polysaga verify` through the snapshot of a backend of one's own (`defineBackend({ snapshot })`):
 * a store of files in a directory, checked for residue like the built-ins, against the real
 * Temporal, PostgreSQL and Redis of the local stack.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { z } from 'zod';
import { createAuditPool, migrate } from '../../src/audit/index.js';
import { defineBackend } from '../../src/backends/define.js';
import { op } from '../../src/backends/types.js';
import { loadConfig, type Config } from '../../src/config/index.js';
import { verifyDefinition } from '../../src/verify/index.js';

const notePayload = z.object({ id: z.string().min(1), text: z.string() });

let dir: string;
let config: Config;

/** What verify reads of the store: one note's file. */
interface NoteTarget {
  kind: string;
  id: string;
}

/** A store of one file per note in `dir`; `withSnapshot` adds what verify reads of it. */
function filesBackend(withSnapshot: boolean) {
  const path = (id: string) => join(dir, `${id}.txt`);
  return defineBackend({
    name: 'files_notes',
    operations: {
      put: {
        payload: notePayload,
        defaultCompensation: 'files_notes_delete',
        description: 'Writes a note file.',
      },
    },
    compensations: { files_notes_delete: { description: 'Deletes the note file a step wrote.' } },
    retry: { startToCloseTimeout: '5s', retry: { maximumAttempts: 2 } },
    connect: () => ({
      operations: {
        put: op<z.infer<typeof notePayload>>((p) => {
          writeFileSync(path(p.id), p.text);
          return Promise.resolve({ id: p.id });
        }),
      },
      compensations: {
        files_notes_delete: (input) => {
          const file = path(input.result.id as string);
          if (!existsSync(file)) return Promise.resolve({ outcome: 'absent' as const });
          unlinkSync(file);
          return Promise.resolve({ outcome: 'undone' as const });
        },
      },
    }),
    ...(withSnapshot
      ? {
          snapshot: {
            targets: (_operation: string, p: Record<string, unknown>) => [
              { kind: 'note-file', id: String(p.id) },
            ],
            describe: (t: NoteTarget) => `files_notes ${t.id}`,
            connect: () => ({
              read: (t: NoteTarget) => {
                const file = path(t.id);
                return Promise.resolve(existsSync(file) ? { text: readFileSync(file, 'utf8') } : null);
              },
            }),
          },
        }
      : {}),
  });
}

/** A note in the store of one's own, then a Redis key: the note is undone when the key fails. */
const definition = {
  name: 'verify-own-backend',
  steps: [
    { id: 'note', backend: 'files_notes', operation: 'put', payload: { id: 'note-{{run}}', text: 'hello' } },
    { id: 'key', backend: 'kv', operation: 'set', payload: { key: 'verify-own:{{run}}', value: 'v' } },
  ],
};

beforeAll(async () => {
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
  dir = mkdtempSync(join(tmpdir(), 'polysaga-verify-own-'));
});
afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('verify with a backend of your own', () => {
  it('reads its store through its snapshot: every position rolled back, zero residue, nothing unchecked', async () => {
    const report = await verifyDefinition(definition, { config, backendDefinitions: [filesBackend(true)] });
    expect(report.unchecked).toEqual([]);
    expect(report.rows.map((r) => [r.position, r.state, r.targets, r.residue])).toEqual([
      [0, 'ROLLED_BACK', 2, []],
      [1, 'ROLLED_BACK', 2, []],
      [2, 'COMMITTED → ROLLED_BACK', 2, []],
    ]);
    // The commit run's note was seen by the snapshot (so "no residue" means it was undone).
    expect(report.rows.at(-1)!.unobserved).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('finds the note a broken compensation leaves behind', async () => {
    const report = await verifyDefinition(definition, {
      config,
      backendDefinitions: [filesBackend(true)],
      positions: [1],
      breakCompensations: ['note'],
    });
    expect(report.ok).toBe(false);
    const row = report.rows[0]!;
    expect(row.state).toBe('ROLLED_BACK');
    expect(row.residue).toEqual([
      {
        target: expect.stringMatching(/^files_notes note-v1-[0-9a-f]{6}$/) as unknown,
        backend: 'files_notes',
        stepIds: ['note'],
        before: null,
        after: { text: 'hello' },
      },
    ]);
    // The file is there on disk, as reported.
    const id = row.residue[0]!.target.replace(/^files_notes /, '');
    expect(readFileSync(join(dir, `${id}.txt`), 'utf8')).toBe('hello');
  });

  it('without a snapshot, its steps are reported unchecked', async () => {
    const report = await verifyDefinition(definition, {
      config,
      backendDefinitions: [filesBackend(false)],
      positions: [1],
    });
    expect(report.unchecked).toEqual([
      'note: backend "files_notes" has no snapshot to check it with (defineBackend\'s `snapshot`)',
    ]);
    expect(report.rows.map((r) => [r.state, r.targets, r.residue])).toEqual([['ROLLED_BACK', 1, []]]);
  });
});
