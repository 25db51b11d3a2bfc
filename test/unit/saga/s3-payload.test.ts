/** put_object payloads of the built-in catalog: exactly one of body, source or bodyFile. */
import { describe, expect, it } from 'vitest';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { validateDefinition } from '../../../src/saga/validate.js';

const saga = (payload: Record<string, unknown>) => ({
  name: 'upload',
  sagaId: 'upload-1',
  steps: [{ id: 'file', backend: 's3', operation: 'put_object', payload }],
});

describe('s3 put_object payload', () => {
  it('accepts body, source or bodyFile alone', () => {
    for (const p of [
      { key: 'k', body: 'x' },
      { key: 'k', source: { key: 'uploads/a' } },
      { key: 'k', source: { bucket: 'other-bucket', key: 'uploads/a' } },
      { key: 'k', bodyFile: '/tmp/a.bin' },
    ])
      expect(validateDefinition(saga(p), builtinCatalog).ok).toBe(true);
  });

  it('refuses body and source together, naming the field', () => {
    const r = validateDefinition(saga({ key: 'k', body: 'x', source: { key: 'a' } }), builtinCatalog);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.issues).toEqual([
        {
          stepId: 'file',
          stepIndex: 0,
          field: 'payload.source',
          message: 'give only one of body, source or bodyFile (body and source given)',
        },
      ]);
  });

  it('refuses bodyFile next to body, and a payload without any body', () => {
    const both = validateDefinition(saga({ key: 'k', body: 'x', bodyFile: '/f' }), builtinCatalog);
    expect(!both.ok && both.issues.map((i) => i.field)).toEqual(['payload.bodyFile']);
    const none = validateDefinition(saga({ key: 'k' }), builtinCatalog);
    expect(!none.ok && none.issues).toEqual([
      {
        stepId: 'file',
        stepIndex: 0,
        field: 'payload.body',
        message: 'one of body, source or bodyFile is required',
      },
    ]);
  });

  it('refuses a source without key and unknown source fields', () => {
    const r = validateDefinition(saga({ key: 'k', source: { bucket: 'b-ok', etag: 'x' } }), builtinCatalog);
    expect(!r.ok && r.issues.map((i) => i.field).sort()).toEqual(['payload.source', 'payload.source.key']);
  });
});
