import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  type Environment,
  REPO_ROOT,
  type Setting,
  databaseSettings,
  integerSetting,
  keyMaterialSetting,
  loadServiceConfig,
} from '@platform/config';
import { CheckpointError, CheckpointSigner, CheckpointVerifier } from './checkpoints/checkpoint';

/** Optional JSON from `NAME` (inline) or `NAME_FILE` (a path); undefined when neither is set. Public data only. */
function optionalJsonSetting(variable: string): Setting<unknown> {
  return {
    variable,
    sensitive: false,
    read(env, problems) {
      const inline = env[variable]?.trim() || undefined;
      const file = env[`${variable}_FILE`]?.trim() || undefined;
      if (inline !== undefined && file !== undefined) {
        problems.push(`set only one of ${variable} and ${variable}_FILE`);
        return undefined;
      }
      let text = inline;
      if (file !== undefined) {
        const path = isAbsolute(file) ? file : resolve(REPO_ROOT, file);
        try {
          text = readFileSync(path, 'utf8');
        } catch {
          problems.push(`${variable}_FILE: cannot read ${path}`);
          return undefined;
        }
      }
      if (text === undefined) return undefined;
      try {
        return JSON.parse(text) as unknown;
      } catch {
        problems.push(`${file === undefined ? variable : `${variable}_FILE`} is not valid JSON`);
        return undefined;
      }
    },
  };
}

/** The audit service's settings beyond the common ones (ARCHITECTURE.md §9, §10). */
export const auditSettings = {
  ...databaseSettings,
  /** Private JWK (EC P-256 or Ed25519) that signs chain checkpoints; never in the audit database. */
  checkpointKey: keyMaterialSetting('AUDIT_CHECKPOINT_KEY', 'deploy/dev/audit-checkpoint-key.json', REPO_ROOT),
  /** JWKS of the public keys checkpoints are verified with; default: the public half of AUDIT_CHECKPOINT_KEY. */
  checkpointPublicKeys: optionalJsonSetting('AUDIT_CHECKPOINT_PUBLIC_KEYS'),
  checkpointIntervalSeconds: integerSetting('AUDIT_CHECKPOINT_INTERVAL_SECONDS', { default: 60, min: 1, max: 3_600 }),
};

export type AuditConfig = ReturnType<typeof loadAuditConfig>['config'];

/**
 * Loads and checks the audit configuration, the checkpoint keys included; every problem is reported in one
 * ConfigError. The signer's own public key is always among the verifying keys.
 */
export function loadAuditConfig(env: Environment) {
  const config = loadServiceConfig('audit', auditSettings, env);
  const problems: string[] = [];
  let signer: CheckpointSigner | undefined;
  let verifier: CheckpointVerifier | undefined;
  const keyProblem = (error: unknown): void => {
    if (!(error instanceof CheckpointError)) throw error;
    problems.push(error.message);
  };
  try {
    signer = CheckpointSigner.fromJwk(config.checkpointKey.json);
  } catch (error) {
    keyProblem(error);
  }
  try {
    const pinned = config.checkpointPublicKeys as { keys?: unknown } | undefined;
    if (pinned !== undefined) CheckpointVerifier.fromJwks(pinned);
    if (signer !== undefined) {
      const own = signer.publicKey;
      const keys = Array.isArray(pinned?.keys) ? (pinned.keys as Array<Record<string, unknown>>) : [];
      const same = keys.find((key) => key?.kid === own.kid);
      if (same !== undefined && (same.x !== own.x || same.y !== own.y)) {
        problems.push(`AUDIT_CHECKPOINT_PUBLIC_KEYS: key "${own.kid}" is not the public half of AUDIT_CHECKPOINT_KEY`);
      }
      const others = keys.filter((key) => key?.kid !== own.kid);
      verifier = CheckpointVerifier.fromJwks({ keys: [signer.publicKey, ...others] });
    }
  } catch (error) {
    keyProblem(error);
  }
  if (problems.length > 0 || signer === undefined || verifier === undefined) throw new ConfigError(problems);
  return { config, signer, verifier };
}
