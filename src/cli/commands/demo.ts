/** `polysaga demo`: the main job on one machine (see src/demo). */
import type { Command } from 'commander';
import { CliError } from '../errors.js';
import { config, installWorkerLogging, printJson } from '../context.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .option('--json', 'machine-readable output')
    .description(
      'run the example sagas against the running stack: migrate, start a worker, run document-ingest and ' +
        'wiki-generation once to COMMITTED and once into a rollback, and print where to see them in the Web UI',
    )
    .addHelpText('after', '\nThe stack must be up: `npm run demo` (scripts/demo.sh) brings it up first.')
    .action(async (opts: { json?: boolean }) => {
      const log = opts.json ? () => undefined : (line: string) => process.stdout.write(`${line}\n`);
      await installWorkerLogging('ERROR', { quietWorkflows: true });
      const { runDemo } = await import('../../demo/index.js');
      const result = await runDemo(config(), log);
      const wrong = result.runs.filter(
        (r) => r.state !== r.expected || (r.state === 'ROLLED_BACK' && r.residue),
      );
      if (opts.json) printJson(result);
      else {
        process.stdout.write(`\nTemporal Web UI: ${result.uiUrl}\n`);
        if (config().codec.keys.length > 0)
          process.stdout.write(
            'Payloads are encrypted in history: run `polysaga codec-server` and enter ' +
              `http://127.0.0.1:${config().codec.server.port} in the Web UI's codec server settings to read them (docs/security.md)\n`,
          );
        process.stdout.write(
          `Audit trail of a saga: polysaga events ${result.runs[1]?.sagaId ?? '<sagaId>'}\n`,
        );
      }
      if (wrong.length > 0) {
        throw new CliError(
          `demo: ${wrong.map((r) => `${r.sagaId} ended ${r.state}, expected ${r.expected}`).join('; ')}`,
          1,
        );
      }
    });
}
