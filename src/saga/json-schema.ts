/**
 * The JSON Schema of saga definitions, generated from {@link sagaDefinitionSchema}
 * (committed as schema/saga-definition.schema.json for editors and other languages).
 */
import { z } from 'zod';
import { sagaDefinitionSchema } from './definition.js';

/** The JSON Schema text (stable formatting, trailing newline). */
export function definitionJsonSchemaText(): string {
  const schema = z.toJSONSchema(sagaDefinitionSchema, { io: 'input' });
  const doc = {
    ...schema,
    $id: 'https://polysaga.dev/schema/saga-definition.schema.json',
    title: 'polysaga saga definition',
    description:
      'A saga: ordered writes to several backends, each with its compensation. Backend operations and payload schemas are checked by `polysaga verify` against the operation catalog (docs/definitions.md).',
  };
  return `${JSON.stringify(doc, null, 2)}\n`;
}
