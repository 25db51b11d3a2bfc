#!/usr/bin/env node
/**
 * The `polysaga` command. Every sub-command lives in its own module under src/cli/commands.
 *
 * Exit codes: 0 success; 1 operation failed (e.g. a saga ended ROLLED_BACK or FAILED with
 * --wait, residue found by verify); 2 usage or invalid input (bad definition, bad config);
 * 3 not found; 4 identity locked; 5 a server could not be reached.
 * Errors are one line on stderr; --verbose adds the stack trace.
 */
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { loadConfigModule } from './context.js';
import { exitCodeFor, formatError } from './errors.js';

const program = new Command();
program
  .name('polysaga')
  .description('Saga orchestrator for polyglot persistence on Temporal.')
  .option('--verbose', 'print stack traces with errors')
  .showHelpAfterError('(run with --help for usage)')
  .exitOverride()
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 operation failed, 2 invalid input or configuration, 3 not found,
4 identity locked, 5 server unreachable.
Configuration comes from the environment (see docs/configuration.md);
\`polysaga stack env\` prints the variables for the local stack.`,
  );
registerCommands(program);
// Every action may call config(): load the configuration module (zod) only once an action runs,
// so `--help` stays fast.
program.hook('preAction', async () => {
  await loadConfigModule();
});

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CommanderError) {
    process.exit(err.exitCode === 0 ? 0 : 2);
  }
  const verbose = program.opts<{ verbose?: boolean }>().verbose === true;
  process.stderr.write(`polysaga: ${formatError(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(exitCodeFor(err));
}
