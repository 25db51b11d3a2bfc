/**
 * Replay tests: the committed histories in test/replay/histories/ (recorded from real runs by
 * scripts/record-histories.ts) must replay against the current workflow code. A changed
 * workflow must be caught.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeterminismViolationError } from '@temporalio/workflow';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import { historyFromJsonValue } from './history-json.js';

const dir = fileURLToPath(new URL('./histories/', import.meta.url));
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();
const load = (f: string) => ({
  workflowId: f.replace(/\.json$/, ''),
  history: historyFromJsonValue(JSON.parse(readFileSync(dir + f, 'utf8'))),
});
const workflowsPath = fileURLToPath(new URL('../workflows/workflows-entry.ts', import.meta.url));
const alteredPath = fileURLToPath(new URL('./fixtures/altered-workflows.ts', import.meta.url));

beforeAll(() => {
  try {
    Runtime.install({ logger: new DefaultLogger('ERROR', () => undefined) });
  } catch {
    // installed already
  }
});

describe('replay', () => {
  it('has the recorded scenario histories', () => {
    expect(files).toEqual(
      expect.arrayContaining([
        'committed.json',
        'rolled-back.json',
        'parallel.json',
        'failed-retried.json',
        'resolved.json',
        'abort-before-pivot.json',
        'abort-after-pivot.json',
        'cancelled.json',
        'compensate-committed.json',
        'identity-lock.json',
        'typed-document-ingest.json',
        // One activity per step (patch polysaga-one-activity-per-step), and fast mode.
        'committed@v3.json',
        'rolled-back@v3.json',
        'parallel@v3.json',
        'failed-retried@v3.json',
        'compensate-committed@v3.json',
        'fast-committed@v3.json',
        'fast-rolled-back@v3.json',
        // An abort cancels a retrying step (patch polysaga-abort-cancels-step); abort is an update.
        'committed@v4.json',
        'rolled-back@v4.json',
        'parallel@v4.json',
        'failed-retried@v4.json',
        'resolved@v4.json',
        'abort-before-pivot@v4.json',
        'abort-retrying-step@v4.json',
        'abort-after-pivot@v4.json',
        'cancelled@v4.json',
        'compensate-committed@v4.json',
        'typed-document-ingest@v4.json',
        'fast-committed@v4.json',
        'fast-rolled-back@v4.json',
      ]),
    );
  });

  it('every committed history replays against the current workflows', async () => {
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const r of Worker.runReplayHistories({ workflowsPath }, files.map(load))) {
      results.push({ workflowId: r.workflowId, error: r.error });
    }
    expect(results.map((r) => r.workflowId).sort()).toEqual(files.map((f) => f.replace(/\.json$/, '')));
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${String(r.error)}`)).toEqual([]);
  });

  it('a changed workflow is caught (DeterminismViolationError)', async () => {
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const r of Worker.runReplayHistories(
      { workflowsPath: alteredPath },
      ['committed.json', 'rolled-back.json', 'committed@v3.json', 'fast-rolled-back@v3.json'].map(load),
    )) {
      results.push({ workflowId: r.workflowId, error: r.error });
    }
    expect(results).toHaveLength(4);
    for (const r of results) expect(r.error).toBeInstanceOf(DeterminismViolationError);
  });
});
