/** Workflow bundle of the tests: the worker's workflows plus the typed example sagas. */
export * from '../../src/workflows/index.js';
export * from '../../examples/typed/index.js';
