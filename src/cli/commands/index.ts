/** Registers every sub-command of `polysaga`. */
import type { Command } from 'commander';
import { registerOpsCommands } from './ops.js';
import { registerSagaCommands } from './sagas.js';
import { registerStack } from './stack.js';

export function registerCommands(program: Command): void {
  registerSagaCommands(program);
  registerOpsCommands(program);
  registerStack(program);
}
