import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import {
  ConfigError,
  type Environment,
  REPO_ROOT,
  type KeyMaterial,
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

/** The private checkpoint key, checked as it is read so its problems are listed with every other setting's. */
function checkpointKeySetting(): Setting<KeyMaterial & { readonly signer: CheckpointSigner }> {
  const material = keyMaterialSetting('AUDIT_CHECKPOINT_KEY', 'deploy/dev/audit-checkpoint-key.json', REPO_ROOT);
  return {
    variable: material.variable,
    sensitive: true,
    read(env, problems) {
      const read = material.read(env, problems);
      if (read === undefined) return undefined;
      try {
        return { ...read, signer: CheckpointSigner.fromJwk(read.json) };
      } catch (error) {
        if (!(error instanceof CheckpointError)) throw error;
        problems.push(error.message);
        return undefined;
      }
    },
  };
}

/** The pinned public keys, checked as they are read. */
function checkpointPublicKeysSetting(): Setting<unknown> {
  const json = optionalJsonSetting('AUDIT_CHECKPOINT_PUBLIC_KEYS');
  return {
    variable: json.variable,
    sensitive: false,
    read(env, problems) {
      const value = json.read(env, problems);
      if (value === undefined) return undefined;
      try {
        CheckpointVerifier.fromJwks(value);
        return value;
      } catch (error) {
        if (!(error instanceof CheckpointError)) throw error;
        problems.push(error.message);
        return undefined;
      }
    },
  };
}

/** The audit service's settings beyond the common ones (ARCHITECTURE.md §9, §10). */
export const auditSettings = {
  ...databaseSettings,
  /** Private JWK (EC P-256 or Ed25519) that signs chain checkpoints; never in the audit database. */
  checkpointKey: checkpointKeySetting(),
  /** JWKS of the public keys checkpoints are verified with, besides the signing key's own public half. */
  checkpointPublicKeys: checkpointPublicKeysSetting(),
  checkpointIntervalSeconds: integerSetting('AUDIT_CHECKPOINT_INTERVAL_SECONDS', { default: 60, min: 1, max: 3_600 }),
};

/**
 * Loads and checks the audit configuration, the checkpoint keys included. The verifying keys are the signer's own
 * public half plus AUDIT_CHECKPOINT_PUBLIC_KEYS (earlier keys during a rotation), which must agree with it.
 */
export function loadAuditConfig(env: Environment) {
  const config = loadServiceConfig('audit', auditSettings, env);
  const { signer } = config.checkpointKey;
  const own = signer.publicKey;
  const pinned = config.checkpointPublicKeys as { keys: Array<Record<string, unknown>> } | undefined;
  const same = pinned?.keys.find((key) => key.kid === own.kid);
  if (same !== undefined && (same.x !== own.x || same.y !== own.y)) {
    throw new ConfigError([
      `AUDIT_CHECKPOINT_PUBLIC_KEYS: key "${String(own.kid)}" is not the public half of AUDIT_CHECKPOINT_KEY`,
    ]);
  }
  const others = pinned?.keys.filter((key) => key.kid !== own.kid) ?? [];
  const verifier = CheckpointVerifier.fromJwks({ keys: [own, ...others] });
  return { config, signer, verifier };
}
