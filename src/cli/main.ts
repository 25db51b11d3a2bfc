#!/usr/bin/env node
/**
 * The `polysaga` command. Every sub-command lives in its own module under src/cli/commands.
 *
 * Exit codes: 0 success; 1 operation failed (e.g. a saga ended ROLLED_BACK or FAILED with
 * --wait, residue found by verify); 2 usage or invalid input (bad definition, bad config);
 * 3 not found; 4 identity locked; 5 a server could not be reached.
 * Errors are one line on stderr; --verbose adds the stack trace. With --json, an error is one
 * JSON object on stderr: {"error": {"code", "message", "exitCode"}}. A closed stdout (a pipe
 * into `head`) ends the command quietly with status 0.
 */
import { Command, CommanderError } from 'commander';
import { registerCommands } from './commands/index.js';
import { loadConfigModule } from './context.js';
import { exitCodeFor, formatError, jsonError, wantsJson } from './errors.js';

// A closed pipe (`polysaga list | head -1`) is not an error: stop quietly with status 0. A closed
// stderr is ignored (the exit status still tells).
const closedPipe = (err: NodeJS.ErrnoException) =>
  err.code === 'EPIPE' || err.code === 'ERR_STREAM_DESTROYED';
process.stdout.on('error', (err: NodeJS.ErrnoException) => {
  if (closedPipe(err)) process.exit(0);
  throw err;
});
process.stderr.on('error', (err: NodeJS.ErrnoException) => {
  if (!closedPipe(err)) throw err;
});
// With --json anywhere on the command line, errors (usage errors too) are one JSON object on stderr.
const json = wantsJson(process.argv.slice(2));

const program = new Command();
program
  .name('polysaga')
  .description('Saga orchestrator for polyglot persistence on Temporal.')
  .option('--verbose', 'print stack traces with errors')
  .showHelpAfterError(json ? false : '(run with --help for usage)')
  .exitOverride()
  .configureOutput({
    outputError: (text, write) =>
      write(json ? `${JSON.stringify(jsonError(text.replace(/^error: /, '').trim(), 2))}\n` : text),
  })
  .addHelpText(
    'after',
    `
Exit codes: 0 ok, 1 operation failed, 2 invalid input or configuration, 3 not found,
4 identity locked, 5 server unreachable. With --json, an error is one JSON object on stderr:
{"error":{"code":"NOT_FOUND","name":…,"message":…,"exitCode":3}}. Output into a pipe that
closes early (polysaga list | head -1) ends the command quietly with exit 0.
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
  if (json) process.stderr.write(`${JSON.stringify(jsonError(err, exitCodeFor(err)))}\n`);
  else process.stderr.write(`polysaga: ${formatError(err)}\n`);
  if (verbose && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
  process.exit(exitCodeFor(err));
}
