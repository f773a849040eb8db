/** @module Lint rules: typed rules that catch floating promises, `any` and non-null assertions, plus file-name and export style. */
import js from '@eslint/js';
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import importX from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';

/**
 * The layers of src/, top to bottom (README, Layout): each folder may import the folders below it, never above.
 * A folder's row lists what it must not import; siblings on one row may import each other.
 */
const SRC_LAYERS = [
  ['src/index.ts', 'src/app.ts'],
  ['src/http', 'src/middleware'],
  ['src/jobs'],
  ['src/serving'],
  ['src/routing', 'src/runtime', 'src/storage', 'src/auth', 'src/webhooks'],
  ['src/tasks'],
  ['src/codecs', 'src/maths'],
  ['src/lib'],
];
const OUTSIDE_SRC = ['origin', 'models', 'scripts', 'cli', 'bench', 'test'];
const layerZones = SRC_LAYERS.flatMap((row, i) => {
  const above = SRC_LAYERS.slice(0, i).flat();
  return row.flatMap((target) => [
    ...(above.length === 0
      ? []
      : [
          {
            target,
            from: above,
            message: `${target} sits below ${above.join(', ')} (README, Layout): move the shared part down.`,
          },
        ]),
    { target, from: OUTSIDE_SRC, message: 'src/ is the ground floor: it imports nothing outside src/.' },
  ]);
});
// The http/middleware pair are siblings by row, but middleware is generic: it never reaches into route modules.
layerZones.push({ target: 'src/middleware', from: ['src/http'], message: 'Middleware does not import route modules.' });
// Recipes stand on src/ and models/lib/; the CLI, scripts and benchmarks stand on them, never the reverse.
layerZones.push({
  target: 'models',
  from: ['scripts', 'cli', 'bench', 'origin', 'test'],
  message: 'models/ never imports scripts/, cli/, bench/, origin/ or test/: move what both need into models/lib/.',
});

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
    // The layers and no import cycles, over the TypeScript sources (resolved as TypeScript does: `.js` → `.ts`).
    files: ['**/*.ts'],
    plugins: { 'import-x': importX },
    settings: {
      'import-x/resolver-next': [createTypeScriptImportResolver({ alwaysTryTypes: true })],
      'import-x/extensions': ['.ts', '.js', '.mjs'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
    },
    rules: { 'import-x/no-restricted-paths': ['error', { zones: layerZones }] },
  },
  { files: ['src/**/*.ts'], rules: { 'import-x/no-cycle': ['error', { ignoreExternal: true }] } },
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
