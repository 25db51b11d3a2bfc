/** Workflow bundle of the tests: the worker's workflows, the typed example sagas and the action-step saga. */
export * from '../../src/workflows/index.js';
export * from '../../examples/typed/index.js';
export * from './action-sagas.js';
