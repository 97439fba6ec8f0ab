// ESLint (flat config): typescript-eslint's recommended rules over the project's own code.
// Generated code (imports/) and rendered output (dist/) are not linted.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['node_modules/', 'dist/', 'imports/', '.meridian/', 'coverage/', 'dist.tmp-*/', 'dist.old-*/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      // Unused names are already type errors (tsconfig noUnusedLocals/Parameters); `_`-prefixed ones are deliberate.
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
  {
    // Progress goes through the CLI's Io, never straight to the console; scripts and tests that log say why.
    files: ['**/*.ts'],
    ignores: ['scripts/**'],
    rules: { 'no-console': 'error' },
  },
  {
    // Constructs meet by reference and import only kernel/, imports/ and other constructs: never the
    // spec model, the plan, the checks of rendered objects, a resolve step, the charts or the pipeline.
    // The resolve steps (spec x cluster -> props) and the spec and rendered-object rules may read the model.
    files: ['features/**/*.ts', 'kernel/**/*.ts'],
    ignores: [
      'features/index.ts',
      'features/*/resolve.ts',
      'features/*/schema.ts',
      'features/*/rules.ts',
      'features/*/checks.ts',
      'features/observability/dashboards.ts',
      'features/previews/previews.ts',
      // The rollout plan of an environment (resolved from the spec), not a construct.
      'features/gitops/rollout.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/model', '**/model/**', '**/checks', '**/checks/**', '**/resolve', '**/charts/**', '**/synth/**', '**/cli/**'],
              message: 'a construct (or kernel/) never imports the model, the checks, a resolve step, the charts or the pipeline: take what it needs as props',
            },
          ],
        },
      ],
    },
  },
  {
    // Tests read rendered manifests, untyped JSON by nature.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: ['**/*.js', '**/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', process: 'readonly', module: 'writable', __dirname: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
  },
);
