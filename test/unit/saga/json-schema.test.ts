import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { definitionJsonSchemaText } from '../../../src/saga/json-schema.js';

describe('schema/saga-definition.schema.json', () => {
  it('is current (regenerate: npx tsx scripts/generate-definition-schema.ts)', () => {
    const committed = readFileSync(
      new URL('../../../schema/saga-definition.schema.json', import.meta.url),
      'utf8',
    );
    // Compared as JSON: the committed file is prettier-formatted.
    expect(JSON.parse(committed)).toEqual(JSON.parse(definitionJsonSchemaText()));
  });
});
