/** @module Lint rules: typed rules that catch floating promises, `any` and non-null assertions, plus file-name and export style. */
import js from '@eslint/js';
import globals from 'globals';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      'node_modules/',
      'build/',
      '.wrangler/',
      'dist/',
      'worker-configuration.d.ts',
      'bench/results/',
      'public/vendor/',
      'test/artifacts/',
    ],
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        project: ['./tsconfig.json', './tsconfig.node.json', './tsconfig.cli.json'],
        tsconfigRootDir: import.meta.dirname,
      },
    },
    rules: {
      '@typescript-eslint/no-explicit-any': 'error',
      '@typescript-eslint/no-non-null-assertion': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      '@typescript-eslint/no-unnecessary-condition': 'off',
      // `() => void x()` style callbacks are idiomatic in handlers and tests.
      '@typescript-eslint/no-confusing-void-expression': [
        'error',
        { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true },
      ],
      '@typescript-eslint/no-extraneous-class': 'off',
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportDefaultDeclaration', message: 'Use named exports (entry points excepted).' },
      ],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['onnxruntime-web', 'onnxruntime-web/*'],
              message: 'Only src/runtime/ort.ts imports onnxruntime-web.',
            },
          ],
        },
      ],
    },
  },
  {
    // Entry points whose default export is the platform's contract (Worker module, vitest configs).
    files: [
      'src/index.ts',
      'bench/bench-worker.ts',
      'vitest.config.ts',
      'test/global-setup.ts',
      'test/origin-setup.ts',
      'test/receiver-setup.ts',
      'test/e2e/stack-setup.ts',
      'eslint.config.js',
      'origin/server.ts',
    ],
    rules: { 'no-restricted-syntax': 'off' },
  },
  {
    files: ['src/runtime/ort.ts', 'bench/**/*.ts', 'models/**/*.ts', 'scripts/**/*.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  // Ambient declarations describe modules whose shape is a default export.
  { files: ['**/*.d.ts'], rules: { 'no-restricted-syntax': 'off' } },
  { files: ['**/*.js', '**/*.mjs'], ...tseslint.configs.disableTypeChecked },
  { files: ['scripts/**/*.mjs', 'bin/**/*.mjs'], languageOptions: { globals: globals.node } },
  // The static pages (playground, API reference): plain browser scripts, no build step.
  {
    files: ['public/**/*.js'],
    ignores: ['public/vendor/**'],
    languageOptions: { globals: globals.browser, sourceType: 'module' },
  },
);
