/** uploadBodyFiles without S3: nothing to upload, and unreadable files refused before any upload. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { hasBodyFiles, uploadBodyFiles } from '../../../src/client/body-files.js';
import { builtinCatalog } from '../../../src/backends/catalog.js';
import { InvalidDefinitionError } from '../../../src/saga/errors.js';
import { assertValidDefinition } from '../../../src/saga/validate.js';

// An S3 endpoint that nothing listens on: any attempt to upload would fail loudly.
const s3 = { region: 'us-east-1', forcePathStyle: true, bucket: 'nowhere', endpoint: 'http://127.0.0.1:9' };

const def = (payload: Record<string, unknown>) =>
  assertValidDefinition(
    {
      name: 'upload',
      sagaId: 'upload-1',
      steps: [
        { id: 'row', backend: 'kv', operation: 'set', payload: { key: 'a', value: '1' } },
        { id: 'file', backend: 's3', operation: 'put_object', payload },
      ],
    },
    builtinCatalog,
  );

describe('uploadBodyFiles', () => {
  it('returns a definition without body files unchanged', async () => {
    const d = def({ key: 'k', body: 'inline' });
    expect(hasBodyFiles(d)).toBe(false);
    const r = await uploadBodyFiles(d, s3);
    expect(r.definition).toBe(d);
    expect(r.uploaded).toEqual([]);
  });

  it('refuses a missing file or a directory naming step and field, before uploading anything', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'polysaga-bodyfile-'));
    try {
      for (const [path, problem] of [
        [join(dir, 'missing.bin'), 'ENOENT'],
        [dir, 'not a regular file'],
      ] as const) {
        const d = def({ key: 'k', bodyFile: path });
        expect(hasBodyFiles(d)).toBe(true);
        const err = await uploadBodyFiles(d, s3).then(
          () => undefined,
          (e: unknown) => e,
        );
        expect(err).toBeInstanceOf(InvalidDefinitionError);
        expect((err as InvalidDefinitionError).issues).toEqual([
          {
            stepId: 'file',
            stepIndex: 1,
            field: 'payload.bodyFile',
            message: `cannot read ${path}: ${problem}`,
          },
        ]);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
