import { X509Certificate } from 'node:crypto';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { type Environment, type Setting } from './config';

/**
 * A path to a file that must exist and be readable at start; unset or empty means none. The value is the absolute
 * path. `content`, when given, checks what the file holds and returns what is wrong with it; a problem names the
 * variable and the path, never the content.
 */
export function readableFileSetting(
  variable: string,
  content?: (text: string) => string | undefined,
): Setting<string | undefined> {
  return {
    variable,
    sensitive: false,
    read(env: Environment, problems: string[]) {
      const value = env[variable]?.trim();
      if (!value) return undefined;
      const path = resolve(value);
      try {
        if (!statSync(path).isFile()) {
          problems.push(`${variable}: ${path} is not a file`);
          return undefined;
        }
        accessSync(path, constants.R_OK);
      } catch {
        problems.push(`${variable}: cannot read ${path}`);
        return undefined;
      }
      if (content) {
        let problem: string | undefined;
        try {
          problem = content(readFileSync(path, 'utf8'));
        } catch {
          problem = 'cannot be read';
        }
        if (problem !== undefined) {
          problems.push(`${variable}: ${path} ${problem}`);
          return undefined;
        }
      }
      return path;
    },
  };
}

/** A user nkey seed: `SU` and 56 more base32 characters (what `nk -gen user` and nkeys.js write). */
export function nkeySeedProblem(text: string): string | undefined {
  return /^SU[A-Z2-7]{56}$/.test(text.trim()) ? undefined : 'is not a NATS user nkey seed (SU…)';
}

/** A `.creds` file: a user JWT and its nkey seed, each between the `-----BEGIN …-----` / `------END …------` lines. */
export function credsFileProblem(text: string): string | undefined {
  const jwt = /-{3,}BEGIN NATS USER JWT-{3,}\s*\n\s*([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)\s*\n/.test(text);
  const seed = /-{3,}BEGIN USER NKEY SEED-{3,}\s*\n\s*SU[A-Z2-7]{56}\s*\n/.test(text);
  if (jwt && seed) return undefined;
  return `is not a NATS credentials file (missing ${[!jwt && 'the user JWT', !seed && 'the user nkey seed'].filter(Boolean).join(' and ')})`;
}

/** PEM text holding at least one block of `label` (CERTIFICATE, or a private key of any kind). */
function pemProblem(label: RegExp, what: string): (text: string) => string | undefined {
  return (text) => (new RegExp(`-----BEGIN ${label.source}-----`).test(text) ? undefined : `holds no PEM ${what}`);
}

export const certificatePemProblem = pemProblem(/CERTIFICATE/, 'certificate');
export const privateKeyPemProblem = pemProblem(/(?:RSA |EC |ENCRYPTED )?PRIVATE KEY/, 'private key');

/** What the NATS security settings hold once read (undefined where unset or invalid). */
interface NatsSecurityValues {
  readonly nodeEnv?: unknown;
  readonly natsUser?: unknown;
  readonly natsPassword?: unknown;
  readonly natsTlsCaFile?: unknown;
  readonly natsTlsCertFile?: unknown;
  readonly natsTlsKeyFile?: unknown;
  readonly natsNkeySeedFile?: unknown;
  readonly natsCredsFile?: unknown;
}

/**
 * The rules between the NATS settings (ARCHITECTURE.md §9): a client certificate and its key come together, at most
 * one kind of credential, a password needs its user; and in production, TLS with a CA, a credential and NATS_USER
 * (the inbox prefix), every missing piece named in one problem. `env` tells a variable set but invalid (already
 * reported) from one that is missing.
 */
export function natsSecurityProblems(
  values: Readonly<Record<string, unknown>> & NatsSecurityValues,
  env: Environment,
  problems: string[],
): void {
  const isSet = (variable: string) => (env[variable]?.trim() ?? '') !== '';
  if (isSet('NATS_TLS_CERT_FILE') !== isSet('NATS_TLS_KEY_FILE')) {
    problems.push('NATS_TLS_CERT_FILE and NATS_TLS_KEY_FILE go together: set both (a client certificate) or neither');
  }
  const kinds = ['NATS_PASSWORD', 'NATS_NKEY_SEED_FILE', 'NATS_CREDS_FILE'].filter(isSet);
  if (kinds.length > 1) {
    problems.push(`set only one kind of NATS credential, not ${kinds.join(' and ')}`);
  }
  if (isSet('NATS_PASSWORD') && !isSet('NATS_USER')) {
    problems.push('NATS_PASSWORD needs NATS_USER, the user it belongs to');
  }
  if (values.nodeEnv !== 'production') return;
  const missing: string[] = [];
  if (!isSet('NATS_TLS_CA_FILE')) missing.push('NATS_TLS_CA_FILE (the CA that signed the NATS server certificate)');
  if (kinds.length === 0) {
    missing.push('a NATS credential (NATS_PASSWORD, NATS_NKEY_SEED_FILE or NATS_CREDS_FILE)');
  }
  if (!isSet('NATS_USER')) missing.push("NATS_USER (the service's NATS user, which names its reply inboxes)");
  if (missing.length > 0) {
    problems.push(`NODE_ENV=production needs TLS and credentials for NATS; missing: ${missing.join(', ')}`);
  }
  for (const [variable, file] of [
    ['NATS_TLS_CA_FILE', values.natsTlsCaFile],
    ['NATS_TLS_CERT_FILE', values.natsTlsCertFile],
  ] as const) {
    if (typeof file === 'string' && isDevOnlyCertificate(file)) {
      problems.push(`${variable}: the dev-only certificates of deploy/dev/tls are refused when NODE_ENV=production`);
    }
  }
}

/** deploy/dev/tls's certificates (their keys are in git) say `dev-only` or `dev only` in their subject. */
function isDevOnlyCertificate(file: string): boolean {
  try {
    return /dev.only/i.test(new X509Certificate(readFileSync(file)).subject);
  } catch {
    return false;
  }
}
