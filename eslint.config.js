const js = require('@eslint/js');
const tseslint = require('typescript-eslint');
const prettier = require('eslint-config-prettier');

// Layering (ARCHITECTURE.md §1): which folder may import what. Each folder gets one complete
// `no-restricted-imports` rule, since a later config block replaces the rule rather than adding to it.
const SERVICES = ['secrets', 'render', 'redaction', 'audit'];
const NODE_JOSE = { name: 'node-jose', message: 'node-jose stays behind @platform/crypto (ARCHITECTURE.md §1).' };
const LIBS_STAY_BELOW = {
  regex: '(^|/)(services|apps)/',
  message: 'libs never import services or apps; move the shared part into a lib (ARCHITECTURE.md §1).',
};
const FRAMEWORK_FREE = {
  group: ['@nestjs/*', 'nats', '@mikro-orm/*', 'pg', 'pino', 'prom-client', 'rxjs', 'express', '@platform/*'],
  message: 'libs/template and libs/redaction import no framework and no other lib (ARCHITECTURE.md §1).',
};
const NO_EVENT_STORE = {
  group: ['@platform/event-store', '@platform/postgres', 'pg', '@mikro-orm/*'],
  message: 'render and redaction never read the event store; they ask secrets over NATS (ARCHITECTURE.md §1).',
};

const APPS_USE_OPS_ENTRY = {
  regex: '(^|/)services/[^/]+/src(/(?!ops$)|$)',
  message: 'apps reach a service only through its public entry, services/<name>/src/ops (ARCHITECTURE.md §1).',
};

function otherServices(service) {
  const others = SERVICES.filter((name) => name !== service).join('|');
  return {
    regex: `(^|/)((${others})/src|services|apps)(/|$)`,
    message: `services/${service} never imports another service or an app; share through libs/ (ARCHITECTURE.md §1).`,
  };
}

/**
 * The rule for a folder's shipped code; its tests may boot other services and import the lib they test. The path
 * rules (`regex`) also hold for `import()`, which no-restricted-imports does not see.
 */
function layer(folders, { patterns = [], jose = false }) {
  const dynamic = patterns
    .filter((pattern) => pattern.regex)
    .map((pattern) => ({
      selector: `ImportExpression[source.value=/${pattern.regex.replace(/\//g, '\\/')}/]`,
      message: pattern.message,
    }));
  return {
    files: folders.map((folder) => `${folder}/src/**`),
    ignores: ['**/*.spec.ts', '**/*-spec.ts'],
    rules: {
      'no-restricted-imports': ['error', { paths: jose ? [] : [NODE_JOSE], patterns }],
      'no-restricted-syntax': ['error', ...dynamic],
    },
  };
}

module.exports = tseslint.config(
  { ignores: ['dist/**', 'dist.*/**', 'node_modules/**', 'libs/contracts/src/gen/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  prettier,
  {
    languageOptions: {
      globals: {
        require: 'readonly',
        module: 'writable',
        process: 'readonly',
        __dirname: 'readonly',
        console: 'readonly',
        setTimeout: 'readonly',
      },
    },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-require-imports': 'off',
      'no-restricted-imports': ['error', { paths: [NODE_JOSE] }],
    },
  },
  layer(['libs/*'], { patterns: [LIBS_STAY_BELOW] }),
  layer(['libs/template', 'libs/redaction'], { patterns: [LIBS_STAY_BELOW, FRAMEWORK_FREE] }),
  layer(['libs/crypto'], { patterns: [LIBS_STAY_BELOW], jose: true }),
  { files: ['libs/crypto/**/*.spec.ts'], rules: { 'no-restricted-imports': 'off' } },
  layer(['services/secrets'], { patterns: [otherServices('secrets')] }),
  layer(['services/audit'], { patterns: [otherServices('audit')] }),
  layer(['services/render'], { patterns: [otherServices('render'), NO_EVENT_STORE] }),
  layer(['services/redaction'], { patterns: [otherServices('redaction'), NO_EVENT_STORE] }),
  layer(['apps/*'], { patterns: [APPS_USE_OPS_ENTRY] }),
);
