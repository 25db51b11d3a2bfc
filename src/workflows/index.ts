/**
 * Workflow entry point of the polysaga worker (`workflowsPath`). Exported names are workflow
 * types stored in histories: renaming one breaks running sagas.
 */
export { sagaWorkflow } from './saga-workflow.js';
export { identityLockWorkflow } from './identity-lock.js';
