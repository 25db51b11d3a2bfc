import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES } from '../../src/config/index.js';

const root = new URL('../../', import.meta.url);
const compose = parse(readFileSync(new URL('docker-compose.yml', root), 'utf8')) as {
  services: Record<string, { environment?: Record<string, string> }>;
};
const composeText = readFileSync(new URL('docker-compose.yml', root), 'utf8');
const stackText = readFileSync(new URL('scripts/stack/stack.sh', root), 'utf8');

/** Variables that only move host ports (read by stack.sh, not by the configuration module). */
const stackPortVariables = [
  'TEMPORAL_PORT',
  'TEMPORAL_UI_PORT',
  'NEO4J_BOLT_PORT',
  'S3_PORT',
  'REDIS_PORT',
  'CHROMA_PORT',
  'QDRANT_PORT',
];

describe('docker-compose.yml', () => {
  it('interpolates only variables that the configuration module or the stack script reads', () => {
    const used = [...composeText.matchAll(/\$\{([A-Z0-9_]+)/g)].map((m) => m[1]!);
    expect(used.length).toBeGreaterThan(5);
    const known = new Set<string>([...CONFIG_VARIABLES, ...stackPortVariables]);
    expect(used.filter((v) => !known.has(v))).toEqual([]);
    for (const v of stackPortVariables.filter((p) => p !== 'QDRANT_PORT')) {
      expect(stackText, `stack.sh reads ${v}`).toContain(`${v}:-`);
    }
  });

  it('configures the worker service with configuration-module names only', () => {
    const env = compose.services.worker?.environment ?? {};
    const names = Object.keys(env);
    expect(names).toContain('TEMPORAL_ADDRESS');
    expect(names).toContain('POSTGRES_HOST');
    expect(names.filter((n) => !(CONFIG_VARIABLES as string[]).includes(n))).toEqual([]);
  });

  it('offers every server of the native stack, plus a real Qdrant', () => {
    expect(Object.keys(compose.services)).toEqual(
      expect.arrayContaining(['temporal', 'postgres', 'neo4j', 's3', 'redis', 'chroma', 'qdrant']),
    );
  });
});
