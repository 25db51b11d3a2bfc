/**
 * wikiGenerationSaga: the wiki generation saga of the second seed
 * (examples/wiki-generation.json) written in TypeScript with the engine's step helper.
 *
 * Steps: save-<name> for each file (HTTP POST /save_file to the "files" service; undo:
 * DELETE /file/<project>/<path>) → git-snapshot (HTTP POST /snapshot/<project> to the "git"
 * service; undo: DELETE the snapshot by the id in the step's result).
 */
import type { SagaResult } from '../../src/saga/status.js';
import { runTypedSaga, type StepPlan } from '../../src/workflows/typed-saga.js';

export interface WikiGenerationInput {
  projectId: string;
  userId: string;
  files: { path: string; content: string }[];
  traceId?: string;
  /** Default `wiki:<projectId>`. */
  identityKey?: string;
}

/** Step id of a file: `save-` and its base name without extension (wiki/index.md → save-index). */
export function saveStepId(path: string): string {
  const base = path.split('/').pop() ?? path;
  return `save-${base.replace(/\.[^.]*$/, '')}`;
}

/** Saves generated wiki files and snapshots them in git, or neither. */
export async function wikiGenerationSaga(input: WikiGenerationInput): Promise<SagaResult> {
  const plan: StepPlan[] = [
    ...input.files.map((f): StepPlan => ({ id: saveStepId(f.path), backend: 'http', operation: 'request' })),
    { id: 'git-snapshot', backend: 'http', operation: 'request' },
  ];
  return runTypedSaga(
    {
      name: 'wiki-generation',
      plan,
      identityKey: input.identityKey ?? `wiki:${input.projectId}`,
      ...(input.traceId ? { traceId: input.traceId } : {}),
    },
    async (saga) => {
      for (const file of input.files) {
        await saga.step({
          id: saveStepId(file.path),
          backend: 'http',
          operation: 'request',
          payload: {
            service: 'files',
            method: 'POST',
            path: '/save_file',
            userId: input.userId,
            body: { project_id: input.projectId, file_path: file.path, content: file.content },
            undo: {
              method: 'DELETE',
              path: `/file/${input.projectId}/${file.path}`,
              userId: input.userId,
              okStatuses: [404],
            },
          },
          compensation: 'http_request',
        });
      }
      await saga.step({
        id: 'git-snapshot',
        backend: 'http',
        operation: 'request',
        payload: {
          service: 'git',
          method: 'POST',
          path: `/snapshot/${input.projectId}`,
          userId: input.userId,
          body: { message: `Generated wiki (${input.files.length} files)` },
          undo: {
            method: 'DELETE',
            path: `/snapshot/${input.projectId}/{{result.body.snapshot_id}}`,
            userId: input.userId,
            okStatuses: [404],
          },
        },
        compensation: 'http_request',
      });
    },
  );
}
