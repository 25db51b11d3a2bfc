/**
 * `http` backend: `request` to a configured internal service (method, path, body, headers)
 * with Idempotency-Key (the step's key), X-User-ID and X-INTERNAL-TOKEN headers.
 *
 * Idempotency: the service deduplicates on the Idempotency-Key header (the example services
 * in src/demo/services do). Compensation `http_request`: runs the payload's `undo` request with
 * `{{result.…}}` / `{{payload.…}}` placeholders filled, key `<key>:compensation`; a 404 means
 * already undone (`absent`).
 */
import type { HttpRequestPayload } from './catalog.js';
import { httpRequestSpec } from './catalog.js';
import type { HttpServiceClient } from './adapter.js';
import { FailureTypes } from '../../saga/contracts.js';
import { PermanentError } from '../errors.js';
import { fillTemplate } from '../template.js';
import { op, type Backend } from '../types.js';
import { defineBackend } from '../define.js';
import { httpSnapshot } from './snapshot.js';
import { httpCatalog } from './catalog.js';

export function createHttpBackend(client: HttpServiceClient): Backend {
  return {
    name: 'http',
    operations: {
      request: op<HttpRequestPayload>(async (p, ctx) => {
        const res = await client.request(p, ctx.idempotencyKey);
        return { ...res, idempotencyKey: ctx.idempotencyKey };
      }),
    },
    compensations: {
      http_request: async (input) => {
        const forward = input.payload;
        if (forward.undo === undefined || forward.undo === null) {
          throw new PermanentError(
            `step ${input.stepId} has no \`undo\` request for http_request`,
            FailureTypes.InvalidPayload,
          );
        }
        const filled = fillTemplate(forward.undo, { result: input.result, payload: forward });
        const parsed = httpRequestSpec.safeParse(filled);
        if (!parsed.success) {
          throw new PermanentError(
            `invalid undo request: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`,
            FailureTypes.InvalidPayload,
          );
        }
        const undo = parsed.data;
        const res = await client.request(
          {
            ...undo,
            service: undo.service ?? (typeof forward.service === 'string' ? forward.service : ''),
            userId: undo.userId ?? (typeof forward.userId === 'string' ? forward.userId : undefined),
            okStatuses: [...undo.okStatuses, 404],
          },
          `${input.idempotencyKey}:compensation`,
        );
        return {
          outcome: res.status === 404 ? 'absent' : 'undone',
          detail: { status: res.status, body: res.body },
        };
      },
    },
  };
}

/** The `http` backend: its catalog and handlers over the worker's http client. */
export const httpBackend = defineBackend({
  ...httpCatalog,
  snapshot: httpSnapshot,
  connect: ({ adapters }) => createHttpBackend(adapters.http),
});
