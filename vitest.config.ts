import { defineConfig } from 'vitest/config';

// One project per layer of the testing pyramid, so each can run alone:
//   npx vitest run --project unit|workflows|replay|integration|e2e
// plus `faults` (test/faults, docs/faults.md): it stops and restarts servers of the stack, so its
// files run one at a time and scripts/test.sh runs it after the other projects, never beside them
// (`npm run test:faults` runs it alone).
// Workflow, replay, integration and e2e tests need the local stack; test/helpers/global-setup.ts
// brings it up (or reuses a running one) and fails fast naming the server that cannot start.
const shared = {
  pool: 'forks' as const, // the Temporal worker loads a native module
  testTimeout: 60_000,
  hookTimeout: 180_000,
};

export default defineConfig({
  test: {
    projects: [
      { test: { ...shared, name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      {
        test: {
          ...shared,
          name: 'workflows',
          include: ['test/workflows/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'replay',
          include: ['test/replay/**/*.test.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
        },
      },
      {
        test: {
          ...shared,
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          testTimeout: 180_000,
        },
      },
      {
        test: {
          ...shared,
          name: 'faults',
          include: ['test/faults/**/*.test.ts'],
          globalSetup: ['test/helpers/global-setup.ts'],
          fileParallelism: false,
          maxWorkers: 1,
          testTimeout: 300_000,
        },
      },
    ],
  },
});
