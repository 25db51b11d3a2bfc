// ESLint flat config: typed rules for all TypeScript, plus the determinism fence around workflow code.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert',
  'buffer',
  'child_process',
  'cluster',
  'crypto',
  'dgram',
  'dns',
  'events',
  'fs',
  'fs/promises',
  'http',
  'http2',
  'https',
  'net',
  'os',
  'path',
  'perf_hooks',
  'process',
  'readline',
  'stream',
  'timers',
  'tls',
  'url',
  'util',
  'v8',
  'vm',
  'worker_threads',
  'zlib',
];

/** Nothing under src/ imports examples/: the package must work without them. */
const examplesPattern = {
  group: ['**/examples/**'],
  message: 'src/ must not import examples/ (see docs/architecture.md).',
};

export default tseslint.config(
  { ignores: ['node_modules/**', 'dist/**', '.stack/**', 'test/replay/histories/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    // CommonJS modules the Temporal SDK require()s (src/blobs/failure-converter.cjs).
    files: ['**/*.cjs'],
    ...tseslint.configs.disableTypeChecked,
    languageOptions: {
      ...tseslint.configs.disableTypeChecked.languageOptions,
      sourceType: 'commonjs',
      globals: { require: 'readonly', exports: 'writable', module: 'writable' },
    },
    rules: { ...tseslint.configs.disableTypeChecked.rules, '@typescript-eslint/no-require-imports': 'off' },
  },
  {
    // Layers (docs/architecture.md): nothing under src/ imports examples/.
    files: ['src/**/*.ts'],
    rules: { 'no-restricted-imports': ['error', { patterns: [examplesPattern] }] },
  },
  {
    // Backends sit below activities and workers: they never import them.
    files: ['src/backends/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            examplesPattern,
            {
              group: ['**/activities/**', '**/workers/**', '**/workflows/**', '**/cli/**', '**/recovery/**'],
              message:
                'Backends never import activities, workers, workflows, the CLI or recovery (see docs/architecture.md).',
            },
          ],
        },
      ],
    },
  },
  {
    // A backend's catalog is its pure half: the client and the CLI import it, so it imports no
    // driver, no Node built-in and none of the backend's I/O modules (docs/architecture.md).
    files: ['src/backends/catalog.ts', 'src/backends/schemas.ts', 'src/backends/*/catalog.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [
              { name: m, message: 'A catalog is pure: no Node built-ins.' },
              { name: `node:${m}`, message: 'A catalog is pure: no Node built-ins.' },
            ]),
            ...['pg', 'neo4j-driver', 'redis', 'chromadb'].map((name) => ({
              name,
              message: 'A catalog is pure: drivers belong in adapter.ts.',
            })),
          ],
          patterns: [
            examplesPattern,
            {
              group: ['@aws-sdk/*', '@qdrant/*'],
              message: 'A catalog is pure: drivers belong in adapter.ts.',
            },
            {
              group: [
                '**/adapter.js',
                '**/runtime.js',
                '**/snapshot.js',
                '**/connect.js',
                '**/backends/index.js',
                '**/activities/**',
                '**/audit/**',
                '**/blobs/**',
                '**/config/**',
                '**/workers/**',
              ],
              allowTypeImports: true,
              message: 'A catalog is pure: it imports src/saga and other catalogs only (types excepted).',
            },
          ],
        },
      ],
    },
  },
  {
    // Workflow code is replayed: it must be deterministic. No Node built-ins, no drivers,
    // no environment, no wall clock or randomness outside Temporal's APIs.
    files: ['src/workflows/**/*.ts', 'src/saga/**/*.ts', 'bench/bare/workflows.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((m) => [
              { name: m, message: 'Workflow code must not use Node built-ins (not deterministic).' },
              {
                name: `node:${m}`,
                message: 'Workflow code must not use Node built-ins (not deterministic).',
              },
            ]),
            { name: 'pg', message: 'Drivers belong in src/backends/<name>/adapter.ts.' },
            { name: 'neo4j-driver', message: 'Drivers belong in src/backends/<name>/adapter.ts.' },
            { name: 'redis', message: 'Drivers belong in src/backends/<name>/adapter.ts.' },
            { name: 'chromadb', message: 'Drivers belong in src/backends/<name>/adapter.ts.' },
            {
              name: '@temporalio/client',
              message: 'Workflows talk to Temporal through @temporalio/workflow only.',
            },
            {
              name: '@temporalio/worker',
              message: 'Workflows talk to Temporal through @temporalio/workflow only.',
            },
            { name: '@temporalio/activity', message: 'Activities run outside the workflow sandbox.' },
          ],
          patterns: [
            {
              group: ['@aws-sdk/*', '@qdrant/*'],
              message: 'Drivers belong in src/backends/<name>/adapter.ts.',
            },
            {
              group: [
                '**/activities/**',
                '**/audit/**',
                '**/backends/**',
                '**/blobs/**',
                '**/cli/**',
                '**/client/**',
                '**/config/**',
                '**/demo/**',
                '**/observability/**',
                '**/recovery/**',
                '**/verify/**',
                '**/workers/**',
                '../index.js',
                '../worker.js',
                '../paths.js',
                '../sleep.js',
              ],
              allowTypeImports: true,
              message:
                'Workflow and src/saga code imports only src/saga and src/workflows (types excepted): see docs/architecture.md.',
            },
            examplesPattern,
          ],
        },
      ],
      'no-restricted-globals': [
        'error',
        { name: 'process', message: 'No process.env or process state in workflow code.' },
        { name: 'setTimeout', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'setInterval', message: 'Use sleep() from @temporalio/workflow.' },
        { name: 'fetch', message: 'I/O belongs in activities.' },
      ],
      'no-restricted-properties': [
        'error',
        {
          object: 'Date',
          property: 'now',
          message:
            'Use workflow time (Date in the sandbox is replay-safe only via Temporal); prefer workflowInfo().',
        },
        { object: 'Math', property: 'random', message: 'Use uuid4() from @temporalio/workflow.' },
        { object: 'process', property: 'env', message: 'No environment in workflow code.' },
      ],
    },
  },
);
