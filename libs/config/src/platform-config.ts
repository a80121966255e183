import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { isDevKeyMaterial } from '@platform/crypto';
import {
  type Environment,
  type KeyMaterial,
  type Setting,
  enumSetting,
  integerSetting,
  keyMaterialSetting,
  listSetting,
  loadConfig,
  sensitiveStringSetting,
  stringSetting,
  urlListSetting,
  urlSetting,
} from './config';
import {
  certificatePemProblem,
  credsFileProblem,
  natsSecurityProblems,
  nkeySeedProblem,
  privateKeyPemProblem,
  readableFileSetting,
} from './nats-security';

/** The installation root (where package.json and `deploy/dev/` live), from source or from `dist/`. */
function findRoot(start: string): string {
  let dir = start;
  while (!existsSync(join(dir, 'package.json')) || !existsSync(join(dir, 'deploy'))) {
    const parent = dirname(dir);
    if (parent === dir) return process.cwd();
    dir = parent;
  }
  return dir;
}

export const REPO_ROOT = findRoot(__dirname);

export const SERVICE_NAMES = ['secrets', 'render', 'redaction', 'audit'] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export const DEFAULT_HTTP_PORTS: Readonly<Record<ServiceName, number>> = {
  secrets: 8081,
  render: 8082,
  redaction: 8083,
  audit: 8084,
};

/** The `iss` of the platform's own service tokens and of dev tokens, trusted by default. */
export const DEFAULT_TOKEN_ISSUER = 'secrets-platform';

/** Where callers' replies go: nats.js's default inbox and the per-user `_INBOX_<user>.` ones (libs/messaging). */
export const DEFAULT_REPLY_PREFIXES: readonly string[] = Object.freeze(['_INBOX.', '_INBOX_']);

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

/** Settings every service reads (ARCHITECTURE.md §9). */
export function commonSettings(service: ServiceName) {
  return {
    nodeEnv: enumSetting('NODE_ENV', ['development', 'test', 'production'], 'development'),
    natsUrl: urlListSetting('NATS_URL', 'nats://127.0.0.1:4222', ['nats:', 'tls:', 'ws:', 'wss:']),
    natsUser: stringSetting('NATS_USER', { default: '', pattern: /^[^\s]*$/, description: 'a NATS user name' }),
    natsPassword: sensitiveStringSetting('NATS_PASSWORD'),
    // TLS to NATS and the other two kinds of credential; with a seed or creds file, NATS_USER only names the inbox.
    natsTlsCaFile: readableFileSetting('NATS_TLS_CA_FILE', certificatePemProblem),
    natsTlsCertFile: readableFileSetting('NATS_TLS_CERT_FILE', certificatePemProblem),
    natsTlsKeyFile: readableFileSetting('NATS_TLS_KEY_FILE', privateKeyPemProblem),
    natsNkeySeedFile: readableFileSetting('NATS_NKEY_SEED_FILE', nkeySeedProblem),
    natsCredsFile: readableFileSetting('NATS_CREDS_FILE', credsFileProblem),
    replyPrefixes: listSetting('NATS_REPLY_PREFIXES', {
      default: DEFAULT_REPLY_PREFIXES,
      itemPattern: /^[^\s*>]+$/,
      description: 'subject prefixes without spaces or wildcards, such as "_INBOX.,_INBOX_"',
    }),
    subjectPrefix: stringSetting('NATS_SUBJECT_PREFIX', {
      default: '',
      pattern: /^(?:[A-Za-z0-9_-]+\.)*$/,
      description: 'empty or dot-terminated subject tokens such as "t42."',
    }),
    httpPort: integerSetting('HTTP_PORT', { default: DEFAULT_HTTP_PORTS[service], min: 0, max: 65535 }),
    jetStreamReplicas: integerSetting('JETSTREAM_REPLICAS', { default: 1, min: 1, max: 5 }),
    startTimeoutMs: integerSetting('START_TIMEOUT_MS', { default: 60_000, min: 1_000, max: 600_000 }),
    logLevel: enumSetting('LOG_LEVEL', LOG_LEVELS, 'info'),
    authJwks: keyMaterialSetting('AUTH_JWKS', 'deploy/dev/jwks.json', REPO_ROOT),
    serviceSigningKey: keyMaterialSetting('SERVICE_SIGNING_KEY', `deploy/dev/service-key-${service}.json`, REPO_ROOT),
    // Token policy (ARCHITECTURE.md §4): trusted issuers, lifetime caps, JWKS reloads, single-use token memory.
    authIssuers: listSetting('AUTH_ISSUERS', {
      default: [DEFAULT_TOKEN_ISSUER],
      itemPattern: /^[\x21-\x2b\x2d-\x7e]{1,256}$/,
      description: 'issuer names without spaces or commas, such as "secrets-platform,https://idp.example.com"',
    }),
    serviceTokenIssuer: stringSetting('SERVICE_TOKEN_ISSUER', {
      default: DEFAULT_TOKEN_ISSUER,
      pattern: /^[\x21-\x2b\x2d-\x7e]{1,256}$/,
      description: 'an issuer name without spaces or commas',
    }),
    authMaxUserTokenSeconds: integerSetting('AUTH_MAX_USER_TOKEN_SECONDS', { default: 43_200, min: 60, max: 604_800 }),
    authMaxServiceTokenSeconds: integerSetting('AUTH_MAX_SERVICE_TOKEN_SECONDS', { default: 300, min: 60, max: 3_600 }),
    authJwksReloadSeconds: integerSetting('AUTH_JWKS_RELOAD_SECONDS', { default: 30, min: 1, max: 3_600 }),
    authReplayCacheSize: integerSetting('AUTH_REPLAY_CACHE_SIZE', { default: 100_000, min: 100, max: 10_000_000 }),
  };
}

export const databaseSettings = {
  databaseUrl: urlSetting('DATABASE_URL', 'postgresql://postgres@127.0.0.1:5432/secrets', ['postgres:', 'postgresql:']),
};

type Values<S> = { readonly [K in keyof S]: S[K] extends Setting<infer T> ? T : never };
export type CommonConfig = Values<ReturnType<typeof commonSettings>>;

/**
 * Loads a service's configuration; in production, refuses dev key material (the defaults under deploy/dev/ and any
 * key whose `kid` starts with `dev-`, by @platform/crypto's one definition).
 */
export function loadServiceConfig<S extends Record<string, Setting<unknown>>>(
  service: ServiceName,
  extra: S,
  env: Environment = process.env,
): Values<ReturnType<typeof commonSettings>> & Values<S> {
  const settings: Record<string, Setting<unknown>> = { ...commonSettings(service), ...extra };
  const config = loadConfig(settings, env, (values, problems) => {
    natsSecurityProblems(values, env, problems);
    // Reported with every other problem, so one start in production names everything to fix.
    if (values.nodeEnv !== 'production') return;
    for (const [name, setting] of Object.entries(settings)) {
      const value = values[name];
      if (isKeyMaterial(value) && (value.isDevDefault || isDevKeyMaterial(value.json))) {
        problems.push(`${setting.variable}: dev key material is refused when NODE_ENV=production`);
      }
    }
  });
  return config as unknown as Values<ReturnType<typeof commonSettings>> & Values<S>;
}

function isKeyMaterial(value: unknown): value is KeyMaterial {
  return typeof value === 'object' && value !== null && 'isDevDefault' in value && 'json' in value;
}

/** Names and non-sensitive values, for a start-up log line. */
export function describeConfig(
  settings: Record<string, Setting<unknown>>,
  config: Record<string, unknown>,
): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(settings).map(([name, setting]) => [
      name,
      setting.sensitive
        ? `<${(config[name] as KeyMaterial | undefined)?.isDevDefault ? 'dev default' : 'set'}>`
        : config[name],
    ]),
  );
}
