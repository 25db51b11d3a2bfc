/** Catalog of the `http` backend (pure zod): requests to configured internal services. */
import { z } from 'zod';
import type { BackendCatalog } from '../../saga/catalog.js';
import { HTTP_STEP_OPTIONS } from '../../saga/activity-options.js';

const method = z.enum(['GET', 'POST', 'PUT', 'PATCH', 'DELETE']);
const path = z.string().regex(/^\/[^\s]*$/, 'must start with / and contain no spaces');
const headers = z
  .record(z.string().regex(/^[A-Za-z0-9-]+$/), z.string())
  .refine(
    (h) =>
      !Object.keys(h).some((k) =>
        ['x-internal-token', 'x-user-id', 'idempotency-key'].includes(k.toLowerCase()),
      ),
    'X-INTERNAL-TOKEN, X-User-ID and Idempotency-Key are set by polysaga',
  )
  .default({});

/** A request template. Strings may use {{result.a.b}} placeholders filled from the forward step's result. */
export const httpRequestSpec = z.object({
  service: z
    .string()
    .regex(/^[a-zA-Z][\w-]*$/)
    .optional(),
  method,
  path,
  body: z.json().optional(),
  headers,
  userId: z.string().min(1).optional(),
  /** Status codes that count as success besides 2xx (e.g. 404 for a DELETE that undoes). */
  okStatuses: z.array(z.number().int()).default([]),
});
export const httpRequestPayload = httpRequestSpec.extend({
  service: z.string().regex(/^[a-zA-Z][\w-]*$/),
  /** The request that undoes this one, run by the `http_request` compensation. */
  undo: httpRequestSpec.optional(),
});
export type HttpRequestSpec = z.infer<typeof httpRequestSpec>;
export type HttpRequestPayload = z.infer<typeof httpRequestPayload>;

export const httpCatalog = {
  name: 'http',
  retry: HTTP_STEP_OPTIONS,
  operations: {
    request: {
      payload: httpRequestPayload,
      defaultCompensation: 'http_request',
      description:
        'One request to a configured service with Idempotency-Key and internal auth headers; result holds status and body.',
    },
  },
  compensations: {
    http_request: {
      description:
        "Runs the step payload's `undo` request ({{result.…}} placeholders filled); 404 counts as already undone.",
    },
  },
} satisfies BackendCatalog;
