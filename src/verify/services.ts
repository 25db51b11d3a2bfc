/**
 * The wiki example's HTTP services (src/demo/services: file store + git snapshot), started
 * in-process by `polysaga verify` when a definition calls the `files` or `git` service and
 * HTTP_SERVICES does not configure it. Both share one temporary projects directory (the
 * snapshot service commits what the file store wrote), removed on close.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../config/index.js';
import type { NormalizedDefinition } from '../saga/definition.js';

/** The services verify can start itself, by service name. */
export const EXAMPLE_SERVICES = ['files', 'git'] as const;

export interface StartedServices {
  /** The configuration with the started services (and the internal token) filled in. */
  config: Config;
  /** Names of the services started in-process (empty: nothing started). */
  started: string[];
  close(): Promise<void>;
}

interface ServiceModule {
  start(opts: Record<string, unknown>): Promise<{ url: string; close: () => Promise<void> }>;
}

/** Names of the example services the definition uses but the configuration lacks. */
export function missingExampleServices(def: NormalizedDefinition, config: Config): string[] {
  const used = new Set<string>();
  const scan = (backend: string, payload: unknown) => {
    if (backend !== 'http' || typeof payload !== 'object' || payload === null) return;
    const s = (payload as { service?: unknown }).service;
    if (typeof s === 'string') used.add(s);
  };
  for (const step of def.steps) {
    scan(step.backend, step.payload);
    const c = step.compensation;
    if (c !== null && typeof c === 'object') scan(c.backend ?? step.backend, c.payload);
  }
  return EXAMPLE_SERVICES.filter((s) => used.has(s) && config.http.services[s] === undefined);
}

async function load(name: string): Promise<ServiceModule> {
  // Resolved at run time: the TypeScript source under tsx, the compiled example from dist/.
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const url = new URL(`../demo/services/${name}.${ext}`, import.meta.url);
  return (await import(url.href)) as ServiceModule;
}

/**
 * Starts the missing example services (if any) and returns the configuration pointing at them.
 * The internal token is HTTP_INTERNAL_TOKEN when set, else a random one for this process.
 */
export async function startExampleServices(
  def: NormalizedDefinition,
  config: Config,
): Promise<StartedServices> {
  const missing = missingExampleServices(def, config);
  if (missing.length === 0) return { config, started: [], close: () => Promise.resolve() };
  const token = config.http.internalToken ?? `verify-${randomUUID()}`;
  const dir = mkdtempSync(join(tmpdir(), 'polysaga-verify-wiki-'));
  const closers: (() => Promise<void>)[] = [];
  const services = { ...config.http.services };
  try {
    for (const name of missing) {
      if (name === 'files') {
        const svc = await (await load('file-store')).start({ port: 0, dataDir: dir, internalToken: token });
        closers.push(svc.close);
        services.files = { url: svc.url };
      } else {
        const svc = await (
          await load('git-snapshot')
        ).start({ port: 0, projectsDir: dir, internalToken: token });
        closers.push(svc.close);
        services.git = { url: svc.url };
      }
    }
  } catch (err) {
    await Promise.allSettled(closers.map((c) => c()));
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    config: { ...config, http: { ...config.http, services, internalToken: token } },
    started: missing,
    async close() {
      await Promise.allSettled(closers.map((c) => c()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
