// @ts-check
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

/** Modules that choose a TensorFlow.js backend: only src/learn/tf.ts may import them. */
const TF_BACKENDS = [
  '@tensorflow/tfjs-node',
  '@tensorflow/tfjs-backend-wasm',
  '@tensorflow/tfjs-backend-cpu',
  '@tensorflow/tfjs-backend-webgl',
];
/** I/O libraries the pure core (features, policy, balance, forecast) must never import. */
const IO_LIBS = [
  'fastify',
  'nats',
  'ioredis',
  'prom-client',
  '@tensorflow/*',
  'node:fs',
  'node:net',
  'node:http',
  'fs',
  'net',
  'http',
];

export default tseslint.config(
  { ignores: ['node_modules/**', 'test-output/**', 'notebooks/**', 'models/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        projectService: { allowDefaultProject: ['*.js', 'bin/*.js', 'scripts/*.mjs'] },
        tsconfigRootDir: import.meta.dirname,
      },
      globals: {
        process: 'readonly',
        console: 'readonly',
        URL: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_' },
      ],
      'no-restricted-imports': [
        'error',
        {
          paths: TF_BACKENDS.map((name) => ({
            name,
            message: 'Only src/learn/tf.ts chooses the TensorFlow.js backend.',
          })),
        },
      ],
    },
  },
  {
    files: ['src/learn/tf.ts'],
    rules: { 'no-restricted-imports': 'off' },
  },
  {
    files: ['src/features/**', 'src/policy/**', 'src/balance/**', 'src/forecast/**'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: IO_LIBS, message: 'The pure core imports no I/O library (STYLE.md).' },
          ],
        },
      ],
    },
  },
  {
    // Tests compare against asymmetric matchers (`expect.any(String)`), which are typed `any`.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
