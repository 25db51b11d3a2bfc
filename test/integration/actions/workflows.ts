/** Workflow bundle of the actions integration test: polysaga's workflows plus creditSaga. */
export * from '../../../src/workflows/index.js';
export { creditSaga } from './credit-saga.js';
