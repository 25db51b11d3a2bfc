import { describe, expect, it } from 'vitest';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { fillSagaIdPlaceholders } from '../../../src/saga/saga-id-placeholder.js';
import { assertValidDefinition, validateDefinition } from '../../../src/saga/validate.js';

const def = (extra: Record<string, unknown> = {}) => ({
  name: 'doc',
  sagaId: 'doc-43',
  traceId: 'trace-${sagaId}',
  identityKey: 'document:${sagaId}',
  steps: [
    {
      id: 'row',
      backend: 'postgres',
      operation: 'insert',
      payload: { table: 'documents', values: { id: '${sagaId}', tags: ['a-${sagaId}', 1, null] } },
      idempotencyKey: 'ingest:${sagaId}',
    },
    {
      id: 'call',
      backend: 'http',
      operation: 'request',
      payload: {
        service: 'files',
        method: 'POST',
        path: '/save/${sagaId}',
        undo: { method: 'DELETE', path: '/file/{{result.body.id}}/${sagaId}' },
      },
      compensation: 'http_request',
    },
  ],
  ...extra,
});

describe('${sagaId} placeholders', () => {
  it('are replaced in payloads, idempotency, trace and identity keys when the definition is validated', () => {
    const d = assertValidDefinition(def(), builtinCatalog);
    expect(d.sagaId).toBe('doc-43');
    expect(d.traceId).toBe('trace-doc-43');
    expect(d.identityKey).toBe('document:doc-43');
    expect(d.steps[0]!.payload).toEqual({
      table: 'documents',
      values: { id: 'doc-43', tags: ['a-doc-43', 1, null] },
    });
    expect(d.steps[0]!.idempotencyKey).toBe('ingest:doc-43');
    // The {{result.…}} placeholders of compensations are left for the worker.
    expect(d.steps[1]!.payload.undo).toEqual({ method: 'DELETE', path: '/file/{{result.body.id}}/doc-43' });
    expect(d.steps[1]!.idempotencyKey).toBe('doc-43:call');
    expect(JSON.stringify(d)).not.toContain('${sagaId}');
  });

  it('follow a generated saga id when the definition has none', () => {
    const { sagaId: _omit, ...noId } = def();
    const d = assertValidDefinition(noId, builtinCatalog, { generateId: () => 'doc-generated' });
    expect(d.sagaId).toBe('doc-generated');
    expect(d.steps[0]!.payload.values).toEqual({ id: 'doc-generated', tags: ['a-doc-generated', 1, null] });
  });

  it('leave the step id, name and other fields alone, and an invalid sagaId is reported, not used', () => {
    const input = def();
    expect(fillSagaIdPlaceholders({ name: 'x', steps: [{ id: '${sagaId}' }] }, () => 'g')).toEqual({
      name: 'x',
      steps: [{ id: '${sagaId}' }],
    });
    const bad = validateDefinition(def({ sagaId: 'not valid!' }), builtinCatalog);
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues.map((i) => i.field)).toContain('sagaId');
    // The input object is not changed.
    expect(input.steps[0]!.payload.values?.id).toBe('${sagaId}');
    assertValidDefinition(input, builtinCatalog);
    expect(input.steps[0]!.payload.values?.id).toBe('${sagaId}');
  });
});
