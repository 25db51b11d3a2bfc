/**
 * Example service: the wiki generation's git snapshot service.
 *
 *   POST   /snapshot/{project_id}                 { user_id, message } → { snapshot_id, project_id, created_at, commit }
 *   DELETE /snapshot/{project_id}/{snapshot_id}   { status: "success" }; 404 if unknown; 409 if newer snapshots exist
 *   GET    /snapshot/{project_id}                 { snapshots: [{ snapshot_id, commit, message }] } (newest first)
 *   POST   /snapshot                              { project_id, user_id?, message } (same as POST /snapshot/{project_id})
 *   DELETE /snapshot/{snapshot_id}                (same as DELETE /snapshot/{project_id}/{snapshot_id}; project found by commit)
 *   GET    /healthz
 *
 * A snapshot is a REAL git commit of the project directory <projectsDir>/<project_id> (the
 * directory the file store writes). Deleting the newest snapshot moves the branch back one commit
 * (the files stay as they are on disk). Needs X-User-ID and X-INTERNAL-TOKEN; honours
 * Idempotency-Key. For rollback tests, snapshots can be made to fail: `failSnapshots` option,
 * `setFailSnapshots()`, or SNAPSHOT_FAIL=1 / --fail when run standalone.
 *
 * Run: node --import tsx src/demo/services/git-snapshot.ts --port 7102 --data-dir /tmp/wiki
 */
import { execFile } from 'node:child_process';
import { mkdir, readdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { argValue, SAFE_ID, serve, type Reply } from './common.js';

const exec = promisify(execFile);

export interface GitSnapshotOptions {
  port?: number;
  /** Directory holding one folder per project (shared with the file store). */
  projectsDir: string;
  internalToken: string;
  /** false, or the HTTP status that every POST /snapshot answers with (true = 500). */
  failSnapshots?: boolean | number;
}

const GIT_ID = [
  '-c',
  'user.name=polysaga snapshot service',
  '-c',
  'user.email=snapshot@polysaga.invalid',
  '-c',
  'commit.gpgsign=false',
];

async function git(cwd: string, ...args: string[]): Promise<string> {
  const { stdout } = await exec('git', [...GIT_ID, ...args], {
    cwd,
    env: { ...process.env, GIT_TERMINAL_PROMPT: '0' },
  });
  return stdout.trim();
}

/** Starts the snapshot service; returns its URL, a close function and the failure switch. */
export async function start(
  opts: GitSnapshotOptions,
): Promise<{ url: string; close: () => Promise<void>; setFailSnapshots: (fail: boolean | number) => void }> {
  await mkdir(opts.projectsDir, { recursive: true });
  let fail: boolean | number = opts.failSnapshots ?? false;
  // One git operation per project at a time.
  const locks = new Map<string, Promise<unknown>>();
  const serial = <T>(project: string, fn: () => Promise<T>): Promise<T> => {
    const prev = locks.get(project) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    locks.set(
      project,
      next.catch(() => undefined),
    );
    return next;
  };

  async function handle(method: string, path: string, rawBody: string, userId: string): Promise<Reply> {
    if (method === 'POST' && path === '/snapshot') {
      let projectId: unknown;
      try {
        projectId = (JSON.parse(rawBody || '{}') as { project_id?: unknown }).project_id;
      } catch {
        return { status: 400, body: { error: 'body must be JSON' } };
      }
      if (typeof projectId !== 'string')
        return { status: 400, body: { error: 'project_id (string) is required' } };
      return handle(method, `/snapshot/${encodeURIComponent(projectId)}`, rawBody, userId);
    }
    const bare = /^\/snapshot\/(snap-[0-9a-f]{7,40})$/.exec(path);
    if (bare && method === 'DELETE') {
      const want = bare[1]!.slice(5);
      for (const entry of await readdir(opts.projectsDir, { withFileTypes: true })) {
        if (!entry.isDirectory() || !SAFE_ID.test(entry.name)) continue;
        const log = await git(resolve(opts.projectsDir, entry.name), 'log', '--format=%H').catch(() => '');
        if (log.split('\n').some((c) => c.startsWith(want)))
          return handle(method, `/snapshot/${entry.name}/${bare[1]!}`, rawBody, userId);
      }
      return { status: 404, body: { status: 'not_found' } };
    }
    const create = /^\/snapshot\/([^/]+)$/.exec(path);
    if (create && method === 'POST') {
      const projectId = decodeURIComponent(create[1]!);
      if (!SAFE_ID.test(projectId)) return { status: 400, body: { error: 'invalid project_id' } };
      if (fail !== false)
        return {
          status: fail === true ? 500 : fail,
          body: { error: 'snapshot failed (failure switch is on)' },
        };
      let body: { user_id?: unknown; message?: unknown } = {};
      try {
        body = rawBody ? (JSON.parse(rawBody) as typeof body) : {};
      } catch {
        return { status: 400, body: { error: 'body must be JSON' } };
      }
      const message =
        typeof body.message === 'string' && body.message ? body.message : `snapshot by ${userId}`;
      const dir = resolve(opts.projectsDir, projectId);
      return serial(projectId, async () => {
        await mkdir(dir, { recursive: true });
        await git(dir, 'init', '-q', '-b', 'main');
        await git(dir, 'add', '-A');
        await git(
          dir,
          'commit',
          '-q',
          '--allow-empty',
          '-m',
          message,
          '-m',
          `User: ${typeof body.user_id === 'string' ? body.user_id : userId}`,
        );
        const commit = await git(dir, 'rev-parse', 'HEAD');
        return {
          status: 200,
          body: {
            snapshot_id: `snap-${commit.slice(0, 12)}`,
            project_id: projectId,
            created_at: new Date().toISOString(),
            commit,
          },
        };
      });
    }
    const list = /^\/snapshot\/([^/]+)$/.exec(path);
    if (list && method === 'GET') {
      const projectId = decodeURIComponent(list[1]!);
      if (!SAFE_ID.test(projectId)) return { status: 400, body: { error: 'invalid project_id' } };
      const dir = resolve(opts.projectsDir, projectId);
      const log = await git(dir, 'log', '--format=%H%x09%s').catch(() => '');
      const snapshots = log
        .split('\n')
        .filter(Boolean)
        .map((l) => {
          const [commit = '', message = ''] = l.split('\t');
          return { snapshot_id: `snap-${commit.slice(0, 12)}`, commit, message };
        });
      return { status: 200, body: { snapshots } };
    }
    const del = /^\/snapshot\/([^/]+)\/(snap-[0-9a-f]{7,40})$/.exec(path);
    if (del && method === 'DELETE') {
      const projectId = decodeURIComponent(del[1]!);
      if (!SAFE_ID.test(projectId)) return { status: 400, body: { error: 'invalid project_id' } };
      const want = del[2]!.slice(5);
      const dir = resolve(opts.projectsDir, projectId);
      return serial(projectId, async () => {
        let head: string;
        try {
          head = await git(dir, 'rev-parse', '--verify', '-q', 'HEAD');
        } catch {
          return { status: 404, body: { status: 'not_found' } };
        }
        if (!head.startsWith(want)) {
          const known = await git(dir, 'log', '--format=%H').catch(() => '');
          return known.split('\n').some((c) => c.startsWith(want))
            ? { status: 409, body: { error: 'newer snapshots exist; delete them first' } }
            : { status: 404, body: { status: 'not_found' } };
        }
        const parent = await git(dir, 'rev-parse', '--verify', '-q', 'HEAD~1').catch(() => '');
        if (parent) await git(dir, 'update-ref', 'HEAD', parent);
        else await git(dir, 'update-ref', '-d', 'HEAD');
        return { status: 200, body: { status: 'success' } };
      });
    }
    return { status: 404, body: { error: `no route ${method} ${path}` } };
  }

  const served = await serve(
    {
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      internalToken: opts.internalToken,
      errorBody: (error) => ({ error }),
    },
    handle,
  );
  return {
    ...served,
    setFailSnapshots: (f) => {
      fail = f;
    },
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const token = process.env.INTERNAL_TOKEN ?? process.env.HTTP_INTERNAL_TOKEN;
  if (!token) {
    console.error('git-snapshot: set INTERNAL_TOKEN (or HTTP_INTERNAL_TOKEN)');
    process.exit(2);
  }
  const { url } = await start({
    port: Number(argValue('port') ?? 7102),
    projectsDir: resolve(argValue('data-dir') ?? '.wiki-data/projects'),
    internalToken: token,
    failSnapshots: process.argv.includes('--fail') || process.env.SNAPSHOT_FAIL === '1',
  });
  console.log(`git-snapshot listening on ${url}`);
}
