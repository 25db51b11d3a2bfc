/**
 * Writes schema/saga-definition.schema.json from the zod schema of saga definitions.
 * Run: npx tsx scripts/generate-definition-schema.ts   (a unit test checks the file is current)
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { format, resolveConfig } from 'prettier';
import { definitionJsonSchemaText } from '../src/saga/json-schema.js';

const target = fileURLToPath(new URL('../schema/saga-definition.schema.json', import.meta.url));
// Formatted like the rest of the repository, so that `prettier --check` stays quiet.
const options = (await resolveConfig(target)) ?? {};
writeFileSync(target, await format(definitionJsonSchemaText(), { ...options, parser: 'json' }));
console.log(`wrote ${target}`);
