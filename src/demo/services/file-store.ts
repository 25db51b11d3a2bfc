/**
 * Example service: the wiki generation's file store.
 *
 *   POST   /save_file                       { project_id, file_path, content } → { status, file_id, path }
 *                                           or { project_id, files: [{ path, content }] } → { status, files: [{ file_id, path }] }
 *   POST   /delete_files                    { project_id, paths } → { status, deleted }; 404 if none existed
 *   GET    /file/{project_id}/{file_path}   the file's content (text/plain), 404 if missing
 *   DELETE /file/{project_id}/{file_path}   { status: "success" }, 404 { status: "not_found" } if missing
 *   GET    /files/{project_id}              { files: [paths] }
 *   GET    /healthz
 *
 * Every route but /healthz needs X-User-ID and X-INTERNAL-TOKEN; Idempotency-Key is honoured.
 * Files live under <dataDir>/<project_id>/ (the git snapshot service commits that directory).
 *
 * Run: node --import tsx src/demo/services/file-store.ts --port 7101 --data-dir /tmp/wiki \
 *        (token from INTERNAL_TOKEN or HTTP_INTERNAL_TOKEN)
 */
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { argValue, SAFE_ID, serve, type Reply } from './common.js';

export interface FileStoreOptions {
  port?: number;
  dataDir: string;
  internalToken: string;
}

function projectPath(dataDir: string, projectId: string, filePath?: string): string | null {
  if (!SAFE_ID.test(projectId)) return null;
  const root = resolve(dataDir, projectId);
  if (filePath === undefined) return root;
  const full = resolve(root, filePath);
  if (!full.startsWith(root + sep) || relative(root, full).split(sep).includes('.git')) return null;
  return full;
}

async function listFiles(dir: string, base = dir): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return [];
  }
  const out: string[] = [];
  for (const e of entries) {
    if (e.name === '.git') continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) out.push(...(await listFiles(full, base)));
    else out.push(relative(base, full).split(sep).join('/'));
  }
  return out.sort();
}

/** Starts the file store; returns its URL and a close function. */
export async function start(opts: FileStoreOptions): Promise<{ url: string; close: () => Promise<void> }> {
  await mkdir(opts.dataDir, { recursive: true });

  async function handle(method: string, path: string, rawBody: string): Promise<Reply> {
    if (method === 'POST' && (path === '/save_file' || path === '/delete_files')) {
      let body: {
        project_id?: unknown;
        file_path?: unknown;
        content?: unknown;
        files?: unknown;
        paths?: unknown;
      };
      try {
        body = JSON.parse(rawBody) as typeof body;
      } catch {
        return { status: 400, body: { status: 'error', error: 'body must be JSON' } };
      }
      const projectId = body.project_id;
      if (typeof projectId !== 'string')
        return { status: 400, body: { status: 'error', error: 'project_id (string) is required' } };
      if (path === '/delete_files') {
        if (!Array.isArray(body.paths) || !body.paths.every((x) => typeof x === 'string')) {
          return { status: 400, body: { status: 'error', error: 'paths (array of strings) is required' } };
        }
        let deleted = 0;
        for (const rel of body.paths) {
          const full = projectPath(opts.dataDir, projectId, rel);
          if (!full) return { status: 400, body: { status: 'error', error: `invalid path ${rel}` } };
          deleted += await rm(full).then(
            () => 1,
            () => 0,
          );
        }
        return deleted === 0
          ? { status: 404, body: { status: 'not_found', deleted } }
          : { status: 200, body: { status: 'success', deleted } };
      }
      const list: { path: unknown; content: unknown }[] = Array.isArray(body.files)
        ? (body.files as { path: unknown; content: unknown }[])
        : [{ path: body.file_path, content: body.content }];
      const saved: { file_id: string; path: string }[] = [];
      for (const f of list) {
        if (typeof f?.path !== 'string' || typeof f.content !== 'string') {
          return {
            status: 400,
            body: { status: 'error', error: 'file_path/path and content (strings) are required' },
          };
        }
        const full = projectPath(opts.dataDir, projectId, f.path);
        if (!full)
          return { status: 400, body: { status: 'error', error: `invalid project_id or path ${f.path}` } };
      }
      for (const f of list as { path: string; content: string }[]) {
        const full = projectPath(opts.dataDir, projectId, f.path)!;
        await mkdir(dirname(full), { recursive: true });
        await writeFile(full, f.content, 'utf8');
        saved.push({
          file_id: `file-${createHash('sha1').update(`${projectId}/${f.path}`).digest('hex').slice(0, 12)}`,
          path: f.path,
        });
      }
      if (!Array.isArray(body.files)) return { status: 200, body: { status: 'success', ...saved[0] } };
      return { status: 200, body: { status: 'success', files: saved } };
    }
    const fileRoute = /^\/file\/([^/]+)\/(.+)$/.exec(path);
    if (fileRoute && (method === 'GET' || method === 'DELETE')) {
      const full = projectPath(
        opts.dataDir,
        decodeURIComponent(fileRoute[1]!),
        decodeURIComponent(fileRoute[2]!),
      );
      if (!full) return { status: 400, body: { status: 'error', error: 'invalid project_id or file path' } };
      if (method === 'GET') {
        try {
          return {
            status: 200,
            body: await readFile(full, 'utf8'),
            contentType: 'text/plain; charset=utf-8',
          };
        } catch {
          return { status: 404, body: { status: 'not_found' } };
        }
      }
      try {
        await rm(full);
      } catch {
        return { status: 404, body: { status: 'not_found' } };
      }
      return { status: 200, body: { status: 'success' } };
    }
    const listRoute = /^\/files\/([^/]+)$/.exec(path);
    if (listRoute && method === 'GET') {
      const root = projectPath(opts.dataDir, decodeURIComponent(listRoute[1]!));
      if (!root) return { status: 400, body: { status: 'error', error: 'invalid project_id' } };
      return { status: 200, body: { files: await listFiles(root) } };
    }
    return { status: 404, body: { status: 'error', error: `no route ${method} ${path}` } };
  }

  return serve(
    {
      ...(opts.port !== undefined ? { port: opts.port } : {}),
      internalToken: opts.internalToken,
      errorBody: (error) => ({ status: 'error', error }),
    },
    handle,
  );
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const token = process.env.INTERNAL_TOKEN ?? process.env.HTTP_INTERNAL_TOKEN;
  if (!token) {
    console.error('file-store: set INTERNAL_TOKEN (or HTTP_INTERNAL_TOKEN)');
    process.exit(2);
  }
  const { url } = await start({
    port: Number(argValue('port') ?? 7101),
    dataDir: resolve(argValue('data-dir') ?? '.wiki-data/projects'),
    internalToken: token,
  });
  console.log(`file-store listening on ${url}`);
}
