/** Registers every sub-command of `polysaga`. */
import type { Command } from 'commander';
import { registerCodecServer } from './codec-server.js';
import { registerDemo } from './demo.js';
import { registerOpsCommands } from './ops.js';
import { registerRecover } from './recover.js';
import { registerSagaCommands } from './sagas.js';
import { registerStack } from './stack.js';
import { registerVerify } from './verify.js';

export function registerCommands(program: Command): void {
  registerSagaCommands(program);
  registerOpsCommands(program);
  registerStack(program);
  registerRecover(program);
  registerDemo(program);
  registerVerify(program);
  registerCodecServer(program);
}
