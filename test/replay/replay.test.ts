/**
 * Replay tests: the committed histories in test/replay/histories/ (recorded from real runs by
 * scripts/record-histories.ts) must replay against the current workflow code. A changed
 * workflow must be caught. With polysaga's data converter and a fixed test key, the recorded
 * (plain) histories still replay, and so do the same histories with every payload encrypted.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { DeterminismViolationError } from '@temporalio/workflow';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  createDataConverter,
  EncryptionCodec,
  type BlobStore,
  type CodecKey,
} from '../../src/blobs/index.js';
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

/** A fixed key: replay must not depend on the stack's key. */
const TEST_KEY: CodecKey = { id: 'replay-test', key: Buffer.alloc(32, 7) };
/** The recorded histories hold no claim-check reference: a store that is never read. */
const noBlobs: BlobStore = {
  put: () => Promise.reject(new Error('replay writes no blob')),
  get: () => Promise.reject(new Error('replay reads no blob')),
  delete: () => Promise.resolve(false),
};
const dataConverter = createDataConverter({ store: noBlobs, keys: [TEST_KEY] });

interface JsonPayload {
  metadata?: Record<string, string>;
  data?: string;
}

/**
 * A JSON history with every payload encrypted as the worker and client would have written it;
 * search attributes, headers and the SDK's markers (read by Temporal and the SDK core
 * themselves) stay as they are.
 */
function encryptHistory(json: unknown): unknown {
  const codec = new EncryptionCodec([TEST_KEY]);
  const skip = new Set(['searchAttributes', 'header', 'markerRecordedEventAttributes']);
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== 'object') return v;
    const o = v as Record<string, unknown>;
    if (typeof o.metadata === 'object' && o.metadata !== null && 'data' in o) {
      const p = o as JsonPayload;
      const metadata: Record<string, Uint8Array> = {};
      for (const [k, x] of Object.entries(p.metadata ?? {})) metadata[k] = Buffer.from(x, 'base64');
      const enc = codec.encryptPayload({ metadata, data: Buffer.from(p.data ?? '', 'base64') });
      return {
        metadata: Object.fromEntries(
          Object.entries(enc.metadata ?? {}).map(([k, x]) => [k, Buffer.from(x).toString('base64')]),
        ),
        data: Buffer.from(enc.data!).toString('base64'),
      };
    }
    return Object.fromEntries(Object.entries(o).map(([k, x]) => [k, skip.has(k) ? x : walk(x)]));
  };
  return walk(json);
}

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
        // A rolled-back saga fails its workflow (patch polysaga-rolled-back-fails-workflow);
        // activities carry Web UI summaries.
        'rolled-back@v5.json',
        'parallel@v5.json',
        'failed-retried@v5.json',
        'abort-before-pivot@v5.json',
        'abort-retrying-step@v5.json',
        'cancelled@v5.json',
        'compensate-committed@v5.json',
        'fast-rolled-back@v5.json',
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

  it("replays through polysaga's data converter: the plain histories and the same histories encrypted", async () => {
    const encrypted = files.map((f) => {
      const json = encryptHistory(JSON.parse(readFileSync(dir + f, 'utf8')));
      expect(JSON.stringify(json)).toContain(Buffer.from('binary/encrypted').toString('base64'));
      return { workflowId: `${f.replace(/\.json$/, '')}+encrypted`, history: historyFromJsonValue(json) };
    });
    const results: { workflowId: string; error?: unknown }[] = [];
    for await (const r of Worker.runReplayHistories({ workflowsPath, dataConverter }, [
      ...files.map(load),
      ...encrypted,
    ])) {
      results.push({ workflowId: r.workflowId, error: r.error });
    }
    expect(results).toHaveLength(files.length * 2);
    expect(results.filter((r) => r.error).map((r) => `${r.workflowId}: ${String(r.error)}`)).toEqual([]);
  });

  it('an encrypted history does not replay without the key', async () => {
    const json = encryptHistory(JSON.parse(readFileSync(`${dir}committed.json`, 'utf8')));
    const results: unknown[] = [];
    for await (const r of Worker.runReplayHistories({ workflowsPath }, [
      { workflowId: 'committed+encrypted', history: historyFromJsonValue(json) },
    ])) {
      results.push(r.error);
    }
    expect(results).toHaveLength(1);
    expect(results[0]).toBeDefined();
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
