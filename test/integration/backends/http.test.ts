/**
 * http backend against the two example services of the wiki generation saga (file store and
 * git snapshot service, real git commits), started in-process: requests with Idempotency-Key and
 * internal auth headers, the http_request compensation run twice, the double-run idempotency
 * check, error mapping, timeouts, and a snapshot failure that deletes the saved files.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApplicationFailure } from '@temporalio/common';
import { HttpServiceClient } from '../../../src/backends/http/adapter.js';
import { createHttpBackend } from '../../../src/backends/http/runtime.js';
import { createStepActivities } from '../../../src/activities/steps.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { FailureTypes, type JsonObject } from '../../../src/saga/contracts.js';
import { start as startFileStore } from '../../../src/demo/services/file-store.js';
import { start as startGitSnapshot } from '../../../src/demo/services/git-snapshot.js';
import { compensationInput, expectFailure, stepInput, uniq } from './helpers.js';

const TOKEN = `tok-${uniq('secret')}`;
let dataDir: string;
let files: Awaited<ReturnType<typeof startFileStore>>;
let gitSvc: Awaited<ReturnType<typeof startGitSnapshot>>;
let slow: Server;
let slowUrl: string;
let acts: ReturnType<typeof createStepActivities>;
let client: HttpServiceClient;

const saveFile = (project: string, path: string, content: string): JsonObject => ({
  service: 'files',
  method: 'POST',
  path: '/save_file',
  userId: 'user-456',
  body: { project_id: project, file_path: path, content },
  undo: { method: 'DELETE', path: '/file/{{payload.body.project_id}}/{{payload.body.file_path}}' },
});
const snapshot = (project: string): JsonObject => ({
  service: 'git',
  method: 'POST',
  path: `/snapshot/${project}`,
  userId: 'user-456',
  body: { user_id: 'user-456', message: 'Auto-generated wiki' },
  undo: { method: 'DELETE', path: `/snapshot/${project}/{{result.body.snapshot_id}}` },
});
const commits = (project: string): number => {
  try {
    return Number(
      execFileSync('git', ['rev-list', '--count', 'HEAD'], {
        cwd: join(dataDir, project),
        encoding: 'utf8',
      }).trim(),
    );
  } catch {
    return 0;
  }
};

beforeAll(async () => {
  dataDir = mkdtempSync(join(tmpdir(), 'polysaga-wiki-'));
  files = await startFileStore({ dataDir, internalToken: TOKEN });
  gitSvc = await startGitSnapshot({ projectsDir: dataDir, internalToken: TOKEN });
  slow = createServer((_req, res) => setTimeout(() => res.end('{}'), 2_000));
  await new Promise<void>((r) => slow.listen(0, '127.0.0.1', () => r()));
  const addr = slow.address();
  slowUrl = `http://127.0.0.1:${typeof addr === 'object' && addr ? addr.port : 0}`;
  client = new HttpServiceClient({
    services: { files: { url: files.url }, git: { url: gitSvc.url }, slow: { url: slowUrl, timeoutMs: 200 } },
    internalToken: TOKEN,
  });
  acts = createStepActivities({ catalog: builtinCatalog, backends: [createHttpBackend(client)] });
});
afterAll(async () => {
  await files?.close();
  await gitSvc?.close();
  slow?.closeAllConnections();
  await new Promise<void>((r) => (slow ? slow.close(() => r()) : r()));
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('http backend (example services, real git)', () => {
  it('save_file: one write for two runs (Idempotency-Key); http_request deletes it, twice', async () => {
    const project = uniq('proj');
    const step = stepInput('http', 'request', saveFile(project, 'wiki/document.md', '# Doc'));
    const r1 = await acts.executeStep(step);
    expect(r1.result).toMatchObject({ status: 200, body: { status: 'success', path: 'wiki/document.md' } });
    const onDisk = join(dataDir, project, 'wiki/document.md');
    expect(readFileSync(onDisk, 'utf8')).toBe('# Doc');
    writeFileSync(onDisk, 'edited later');
    const r2 = await acts.executeStep(step);
    expect(r2.result.body).toEqual(r1.result.body);
    expect(readFileSync(onDisk, 'utf8')).toBe('edited later'); // the retry did not write again

    const comp = compensationInput(step, r1.result, 'http_request');
    expect(await acts.compensateStep(comp)).toMatchObject({ outcome: 'undone' });
    expect(existsSync(onDisk)).toBe(false);
    // A second undo with the same key is replayed by the service; a fresh key gets the 404.
    expect((await acts.compensateStep(comp)).outcome).toMatch(/undone|absent/);
    expect(await acts.compensateStep({ ...comp, idempotencyKey: uniq('other') })).toMatchObject({
      outcome: 'absent',
    });
  });

  it('snapshot: one real git commit for two runs; http_request deletes the snapshot, twice', async () => {
    const project = uniq('proj');
    await acts.executeStep(stepInput('http', 'request', saveFile(project, 'index.md', 'hello')));
    const step = stepInput('http', 'request', snapshot(project));
    const r1 = await acts.executeStep(step);
    expect(await acts.executeStep(step)).toEqual(r1);
    expect(commits(project)).toBe(1);
    const body = r1.result.body as JsonObject;
    expect(body.snapshot_id).toMatch(/^snap-[0-9a-f]{12}$/);
    expect(
      execFileSync('git', ['show', '--stat', '--format=%s', 'HEAD'], {
        cwd: join(dataDir, project),
        encoding: 'utf8',
      }),
    ).toContain('index.md');

    const comp = compensationInput(step, r1.result, 'http_request');
    expect(await acts.compensateStep(comp)).toMatchObject({ outcome: 'undone' });
    expect(commits(project)).toBe(0);
    expect(await acts.compensateStep({ ...comp, idempotencyKey: uniq('other') })).toMatchObject({
      outcome: 'absent',
    });
  });

  it('the wiki rollback: snapshot fails, so the saved files are deleted (newest first)', async () => {
    const project = uniq('proj');
    const done: { step: ReturnType<typeof stepInput>; result: JsonObject }[] = [];
    for (const f of ['a.md', 'b.md', 'c.md']) {
      const step = stepInput('http', 'request', saveFile(project, `wiki/${f}`, f));
      done.push({ step, result: (await acts.executeStep(step)).result });
    }
    gitSvc.setFailSnapshots(400);
    try {
      await expectFailure(
        acts.executeStep(stepInput('http', 'request', snapshot(project))),
        FailureTypes.ClientError,
      );
    } finally {
      gitSvc.setFailSnapshots(false);
    }
    for (const d of done.reverse()) {
      expect((await acts.compensateStep(compensationInput(d.step, d.result, 'http_request'))).outcome).toBe(
        'undone',
      );
    }
    const list = await client.request(
      { service: 'files', method: 'GET', path: `/files/${project}`, userId: 'user-456' },
      uniq('k'),
    );
    expect(list.body).toEqual({ files: [] });
    expect(commits(project)).toBe(0);
  });

  it('examples/wiki-generation.json step payloads: commit, then undo both; snapshot failure undoes the files', async () => {
    const def = JSON.parse(
      readFileSync(new URL('../../../examples/wiki-generation.json', import.meta.url), 'utf8'),
    ) as {
      steps: { id: string; backend: string; operation: string; payload: JsonObject; compensation: string }[];
    };
    // A project of its own per run: rewrite the example's project id.
    const project = uniq('wiki');
    const steps = def.steps.map((s) => ({
      ...s,
      payload: JSON.parse(JSON.stringify(s.payload).replaceAll('proj-123', project)) as JsonObject,
    }));
    const listFiles = async () =>
      (
        await client.request(
          { service: 'files', method: 'GET', path: `/files/${project}`, userId: 'u' },
          uniq('k'),
        )
      ).body as { files: string[] };

    const done: { step: ReturnType<typeof stepInput>; result: JsonObject; compensation: string }[] = [];
    for (const s of steps) {
      const step = stepInput(s.backend, s.operation, s.payload);
      const r1 = await acts.executeStep(step);
      expect((await acts.executeStep(step)).result.body).toEqual(r1.result.body);
      done.push({ step, result: r1.result, compensation: s.compensation });
    }
    expect((await listFiles()).files.length).toBeGreaterThan(0);
    expect(commits(project)).toBe(1);
    for (const d of [...done].reverse()) {
      const comp = compensationInput(d.step, d.result, d.compensation);
      expect((await acts.compensateStep(comp)).outcome).toBe('undone');
      expect((await acts.compensateStep({ ...comp, idempotencyKey: uniq('again') })).outcome).toBe('absent');
    }
    expect(await listFiles()).toEqual({ files: [] });
    expect(commits(project)).toBe(0);

    // Failure at the snapshot: the files saved before it are deleted, newest first.
    const snapAt = steps.findIndex((st) => st.payload.service === 'git');
    expect(snapAt).toBeGreaterThan(0);
    const saved: { step: ReturnType<typeof stepInput>; result: JsonObject; compensation: string }[] = [];
    for (const st of steps.slice(0, snapAt)) {
      const step = stepInput(st.backend, st.operation, st.payload);
      saved.push({ step, result: (await acts.executeStep(step)).result, compensation: st.compensation });
    }
    expect((await listFiles()).files.length).toBe(snapAt);
    gitSvc.setFailSnapshots(400);
    try {
      const snap = steps[snapAt]!;
      await expectFailure(
        acts.executeStep(stepInput(snap.backend, snap.operation, snap.payload)),
        FailureTypes.ClientError,
      );
    } finally {
      gitSvc.setFailSnapshots(false);
    }
    for (const d of saved.reverse()) {
      expect((await acts.compensateStep(compensationInput(d.step, d.result, d.compensation))).outcome).toBe(
        'undone',
      );
    }
    expect(await listFiles()).toEqual({ files: [] });
    expect(commits(project)).toBe(0);
  });

  it('sends X-User-ID and X-INTERNAL-TOKEN; the token is in no result and no error', async () => {
    const project = uniq('proj');
    const r = await acts.executeStep(stepInput('http', 'request', saveFile(project, 'x.md', 'x')));
    expect(JSON.stringify(r)).not.toContain(TOKEN);
    // Without X-User-ID the service refuses (400 → ClientError, permanent).
    const noUser = { ...saveFile(project, 'y.md', 'y') };
    delete noUser.userId;
    const f = await expectFailure(
      acts.executeStep(stepInput('http', 'request', noUser)),
      FailureTypes.ClientError,
    );
    expect(f.message).toContain('X-User-ID');
    // A wrong token: 401 → ClientError; the message does not echo any token.
    const wrong = createStepActivities({
      catalog: builtinCatalog,
      backends: [
        createHttpBackend(
          new HttpServiceClient({ services: { files: { url: files.url } }, internalToken: 'wrong-token' }),
        ),
      ],
    });
    const g = await expectFailure(
      wrong.executeStep(stepInput('http', 'request', saveFile(project, 'z.md', 'z'))),
      FailureTypes.ClientError,
    );
    expect(g.message).not.toContain('wrong-token');
    expect(g.message).not.toContain(TOKEN);
    // Caller-supplied auth headers are refused by the payload schema.
    await expectFailure(
      acts.executeStep(
        stepInput('http', 'request', {
          ...saveFile(project, 'h.md', 'h'),
          headers: { 'X-INTERNAL-TOKEN': 'x' },
        }),
      ),
      FailureTypes.InvalidPayload,
    );
  });

  it('error mapping: 5xx and timeouts are transient (rethrown for retry); unknown service is InvalidPayload', async () => {
    gitSvc.setFailSnapshots(503);
    try {
      const err = await acts
        .executeStep(stepInput('http', 'request', snapshot(uniq('proj'))))
        .catch((e: unknown) => e);
      expect(err).not.toBeInstanceOf(ApplicationFailure);
      expect((err as { status?: number }).status).toBe(503);
    } finally {
      gitSvc.setFailSnapshots(false);
    }
    const t0 = Date.now();
    const timeout = await acts
      .executeStep(stepInput('http', 'request', { service: 'slow', method: 'GET', path: '/' }))
      .catch((e: unknown) => e);
    expect(timeout).not.toBeInstanceOf(ApplicationFailure);
    expect((timeout as Error).name).toBe('TimeoutError');
    expect(Date.now() - t0).toBeLessThan(1_500);
    await expectFailure(
      acts.executeStep(stepInput('http', 'request', { service: 'nope', method: 'GET', path: '/' })),
      FailureTypes.InvalidPayload,
    );
  });

  it('per-service timeouts: files 10 s, git 15 s, others 30 s, unless configured', () => {
    expect(client.timeoutMs('files')).toBe(10_000);
    expect(client.timeoutMs('git')).toBe(15_000);
    expect(client.timeoutMs('search')).toBe(30_000);
    expect(client.timeoutMs('slow')).toBe(200);
  });
});
