/**
 * Global setup of the `faults` project: the same as every stack project's
 * (test/helpers/global-setup.ts: the local stack, then the audit migrations).
 */
export { default } from '../helpers/global-setup.js';
