/** `polysaga stack up|down|status|env|logs`: the local stack of real servers (scripts/stack/stack.sh). */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { packageRoot } from '../../paths.js';
import { CliError } from '../errors.js';

function run(args: string[]): void {
  const script = join(packageRoot(), 'scripts/stack/stack.sh');
  if (!existsSync(script))
    throw new CliError(
      'polysaga stack needs a git checkout of polysaga: scripts/stack is not part of the npm package',
      2,
    );
  const r = spawnSync('bash', [script, ...args], { stdio: 'inherit' });
  if (r.status !== 0)
    throw new CliError(`stack ${args[0]} failed (exit ${r.status ?? 'signal'})`, r.status ?? 1);
}

export function registerStack(program: Command): void {
  const stack = program
    .command('stack')
    .description('install, start, stop and inspect the local stack of real servers (no Docker needed)')
    .addHelpText(
      'after',
      `
Services: temporal (with Web UI), postgres, neo4j, s3 (S3Proxy), redis, chroma, qdrant-double.
Data and logs live under .stack/ (POLYSAGA_STACK_DIR), with the payload encryption key
.stack/codec-key (made once; "env" exports POLYSAGA_CODEC_KEYS_FILE, see docs/security.md).
Ports: TEMPORAL_PORT, TEMPORAL_UI_PORT, POSTGRES_PORT, NEO4J_BOLT_PORT, S3_PORT, REDIS_PORT,
CHROMA_PORT, QDRANT_DOUBLE_PORT.
STACK_TIMEOUT (seconds, default 120) bounds each server's start-up.`,
    );
  stack
    .command('up')
    .argument('[services...]', 'only these services')
    .description('install what is missing, start, and wait until each server is healthy (idempotent)')
    .action((services: string[]) => run(['up', ...services]));
  stack
    .command('down')
    .argument('[services...]', 'only these services')
    .description('stop the servers (data is kept)')
    .action((services: string[]) => run(['down', ...services]));
  stack
    .command('status')
    .description('one line per server: running or stopped, and its address')
    .action(() => run(['status']));
  stack
    .command('env')
    .description('print the connection environment as export lines (eval "$(polysaga stack env)")')
    .action(() => run(['env']));
  stack
    .command('logs')
    .argument('<service>', 'a service name')
    .description("print the tail of a server's log")
    .action((service: string) => run(['logs', service]));
}
