import { ConfigError } from '@platform/config';
import { generateKeyPairSync } from 'node:crypto';
import { loadAuditConfig } from './audit-settings';

function privateJwk(kid: string): Record<string, unknown> {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { ...privateKey.export({ format: 'jwk' }), kid };
}

function problems(env: Record<string, string>): readonly string[] {
  try {
    loadAuditConfig({ NODE_ENV: 'test', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a configuration error');
}

describe('audit checkpoint settings', () => {
  it('signs with the dev key by default, every 60 s, and verifies with its public half', () => {
    const { config, signer, verifier } = loadAuditConfig({ NODE_ENV: 'test' });
    expect(config.checkpointIntervalSeconds).toBe(60);
    expect(signer.keyId).toBe('dev-audit-checkpoint');
    expect(verifier.keyIds).toEqual(['dev-audit-checkpoint']);
  });

  it('pins the configured public keys beside the signing key, for rotation', () => {
    const current = privateJwk('audit-2027');
    const { publicKey: previous } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const { verifier } = loadAuditConfig({
      NODE_ENV: 'test',
      AUDIT_CHECKPOINT_KEY: JSON.stringify(current),
      AUDIT_CHECKPOINT_PUBLIC_KEYS: JSON.stringify({
        keys: [
          { kty: 'EC', crv: 'P-256', x: current.x, y: current.y, kid: 'audit-2027' },
          { ...previous.export({ format: 'jwk' }), kid: 'audit-2026' },
        ],
      }),
    });
    expect(verifier.keyIds).toEqual(['audit-2027', 'audit-2026']);
  });

  it('refuses the dev key in production', () => {
    expect(problems({ NODE_ENV: 'production' })).toContain(
      'AUDIT_CHECKPOINT_KEY: dev key material is refused when NODE_ENV=production',
    );
  });

  it('lists every problem of the checkpoint settings at once, never a private part', () => {
    const key = privateJwk('audit-2027');
    const listed = problems({
      AUDIT_CHECKPOINT_KEY: JSON.stringify({ ...key, d: undefined }),
      AUDIT_CHECKPOINT_PUBLIC_KEYS: '{"keys": []}',
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: '0',
    });
    expect(listed).toEqual([
      'AUDIT_CHECKPOINT_KEY: must be a private key (member "d")',
      'AUDIT_CHECKPOINT_PUBLIC_KEYS: must be a JWKS ({"keys": [...]}) with at least one key',
      'AUDIT_CHECKPOINT_INTERVAL_SECONDS must be an integer from 1 to 3600 (got "0")',
    ]);
    const other = privateJwk('audit-2027');
    const mismatch = problems({
      AUDIT_CHECKPOINT_KEY: JSON.stringify(key),
      AUDIT_CHECKPOINT_PUBLIC_KEYS: JSON.stringify({
        keys: [{ kty: 'EC', crv: 'P-256', x: other.x, y: other.y, kid: 'audit-2027' }],
      }),
    });
    expect(mismatch).toEqual([
      'AUDIT_CHECKPOINT_PUBLIC_KEYS: key "audit-2027" is not the public half of AUDIT_CHECKPOINT_KEY',
    ]);
    expect(JSON.stringify(mismatch)).not.toContain(String(key.d));
    expect(problems({ AUDIT_CHECKPOINT_PUBLIC_KEYS: 'not json' })).toEqual([
      'AUDIT_CHECKPOINT_PUBLIC_KEYS is not valid JSON',
    ]);
  });
});
