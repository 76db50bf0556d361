import jest from 'eslint-plugin-jest';
import tseslint from 'typescript-eslint';

// What only this app (the service around the module) may import.
const APP_LEVEL = ['**/config/**', '**/logging/**', '**/health/**', '**/cli/**', '**/app.module', '**/app.factory', '**/main'];

export default tseslint.config(
  { ignores: ['dist/**', 'examples/**', 'dist-bench/**', 'node_modules/**', 'data/**', 'coverage/**', 'jest.config.js', 'eslint.config.mjs', 'test/setup/skipped-tests-reporter.js'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-extraneous-class': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  // Modules depend only downward: cross-cutting folders never import a feature or the app, and
  // the users feature (the embeddable module) never imports the app's config, logging or CLIs.
  {
    files: ['src/{common,errors,database,audit,throttling,cache,validation,http}/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: ['**/users/**', ...APP_LEVEL], message: 'cross-cutting code never depends on a feature (users/) or on the app' }] }],
    },
  },
  {
    files: ['src/users/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { patterns: [{ group: APP_LEVEL, message: "the users module is embedded in other apps: it takes its settings from UsersModule's options, never from this app" }] }],
    },
  },
  {
    // The repository's concerns are peers: each uses the store of persistence primitives (and Db),
    // never another concern, so that any SQL is found without opening a second concern's file.
    files: ['src/users/repository/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: APP_LEVEL, message: "the users module is embedded in other apps: it takes its settings from UsersModule's options, never from this app" },
            { group: ['./user-reads', './user-writes', './user-bulk', './user-transfer', './user-privacy', './user-retention'], message: 'repository concerns are peers: share a primitive through UserStore instead' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.spec.ts', 'test/**/*.ts'],
    ...jest.configs['flat/recommended'],
    rules: {
      ...jest.configs['flat/recommended'].rules,
      'jest/valid-expect': 'error',
      'jest/expect-expect': ['error', { assertFunctionNames: ['expect', '**.expect', 'expect*'] }],
      '@typescript-eslint/unbound-method': 'off',
    },
  },
);
