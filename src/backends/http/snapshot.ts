/**
 * What `polysaga verify` reads of the http store: the current state of one target, as JSON
 * (`null` when absent), compared before and after a saga (docs/verify.md).
 *
 * Two readers for the wiki example's services (src/demo/services): the files of a project and
 * its git snapshots.
 */
import { createHash } from 'node:crypto';
import type { Json, JsonObject } from '../../saga/contracts.js';
import type { HttpServiceClient } from './adapter.js';
import type { BackendSnapshot } from '../define.js';

const sha256 = (data: string): string => createHash('sha256').update(data).digest('hex');

/** A project of a file-store or git-snapshot service. */
export interface ProjectRef {
  service: string;
  projectId: string;
  userId: string;
}

/** SHA-256 of each file of the project (file-store service). */
export async function httpFiles(http: HttpServiceClient, spec: ProjectRef): Promise<Json> {
  const p = encodeURIComponent(spec.projectId);
  const key = `polysaga-verify-read-${Date.now()}`;
  const list = await http.request(
    { service: spec.service, method: 'GET', path: `/files/${p}`, userId: spec.userId },
    key,
  );
  const files = ((list.body as { files?: unknown } | null)?.files ?? []) as string[];
  if (files.length === 0) return null;
  const out: JsonObject = {};
  for (const f of [...files].sort()) {
    const path = f.split('/').map(encodeURIComponent).join('/');
    const r = await http.request(
      {
        service: spec.service,
        method: 'GET',
        path: `/file/${p}/${path}`,
        userId: spec.userId,
        okStatuses: [404],
      },
      key,
    );
    out[f] = r.status === 404 ? null : sha256(typeof r.body === 'string' ? r.body : JSON.stringify(r.body));
  }
  return out;
}

/** The project's snapshots, `<commit> <message>` (git-snapshot service). */
export async function httpGit(http: HttpServiceClient, spec: ProjectRef): Promise<Json> {
  const r = await http.request(
    {
      service: spec.service,
      method: 'GET',
      path: `/snapshot/${encodeURIComponent(spec.projectId)}`,
      userId: spec.userId,
    },
    `polysaga-verify-read-${Date.now()}`,
  );
  const snaps = ((r.body as { snapshots?: unknown } | null)?.snapshots ?? []) as {
    commit?: string;
    message?: string;
  }[];
  return snaps.length === 0 ? null : snaps.map((s) => `${s.commit ?? ''} ${s.message ?? ''}`);
}

/** A project of the wiki example's services verify reads. */
export type HttpTarget = ({ kind: 'http-files' } | { kind: 'http-git' }) & ProjectRef;

/**
 * The project an http step to the `files` or `git` service touches (from `body.project_id`, or
 * the `/snapshot/<id>` path); other services: why there is no target.
 */
export function httpTargets(p: Record<string, unknown>): HttpTarget[] | string {
  const service = String(p.service);
  const userId = typeof p.userId === 'string' ? p.userId : 'polysaga-verify';
  const body =
    typeof p.body === 'object' && p.body !== null && !Array.isArray(p.body)
      ? (p.body as Record<string, unknown>)
      : {};
  let projectId = typeof body.project_id === 'string' ? body.project_id : undefined;
  if (service === 'git' && projectId === undefined) {
    projectId = /^\/snapshot\/([^/]+)/.exec(String(p.path))?.[1];
    if (projectId !== undefined) projectId = decodeURIComponent(projectId);
  }
  if (service === 'files' || service === 'git') {
    if (projectId === undefined) return `http service "${service}": no project_id in the body or path`;
    return [{ kind: service === 'files' ? 'http-files' : 'http-git', service, projectId, userId }];
  }
  return `http service "${service}" has no snapshot reader (only "files" and "git" are known)`;
}

/** What `polysaga verify` checks of the http store: the projects of the wiki example's services. */
export const httpSnapshot: BackendSnapshot<HttpTarget> = {
  targets: (_operation, p) => httpTargets(p),
  describe: (t) =>
    t.kind === 'http-files'
      ? `http ${t.service} files of ${t.projectId}`
      : `http ${t.service} snapshots of ${t.projectId}`,
  connect: ({ adapters }) => ({
    read: (t) => (t.kind === 'http-files' ? httpFiles(adapters.http, t) : httpGit(adapters.http, t)),
  }),
};
