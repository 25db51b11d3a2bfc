/**
 * Where polysaga's own files are: the package root holds migrations/, examples/ and (in a git
 * checkout) scripts/. Modules run from src/ (tsx, vitest) or from dist/src/ (the build), so
 * paths relative to a module differ by one level; this finds the root from either.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

let root: string | undefined;

/** The package root: the nearest folder above this module with polysaga's package.json. */
export function packageRoot(): string {
  if (root !== undefined) return root;
  const here = fileURLToPath(new URL('.', import.meta.url));
  for (const up of ['..', '../..']) {
    const dir = join(here, up);
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'migrations'))) return (root = dir);
  }
  throw new Error(`polysaga package root not found above ${here}`);
}
