// ESLint flat config: type-aware rules where they catch real bugs (floating promises above all).
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'api/gen/**', 'bin/**', 'scripts/**', 'eslint.config.js', '**/*.d.ts', 'test/cluster/build/**'] },
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': ['error', {
        allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite', 'before', 'after', 'beforeEach', 'afterEach'] }],
      }],
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: { arguments: false } }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: 'Read the environment only in a config module (config.ts).' }],
    },
  },
  {
    files: ['**/config.ts', '**/config/*.ts', 'test/**', 'bench/**', '**/*.test.ts', 'examples/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
