import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ReplyPrivateKey,
  type ReplyPublicJwk,
  ReplySigner,
  ReplyVerifier,
  decryptWithReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type TestNatsClient } from './nats-client';
import { type TestTokens, assertOutsideClient } from './tokens';

const DEV_DIR = join(__dirname, '../../../deploy/dev');

/** The dev reply-signing private key the secrets service signs resolve replies with by default. */
export function devReplySigningKey(): unknown {
  return JSON.parse(readFileSync(join(DEV_DIR, 'reply-signing-key.json'), 'utf8')) as unknown;
}

/**
 * A fresh reply-signing key pair under `kid`: the signer a fake secrets service uses, the public JWK a verifier pins,
 * and a verifier pinning it alone.
 */
export function replySigningKeyPair(kid: string): {
  signer: ReplySigner;
  publicJwk: Record<string, unknown>;
  verifier: ReplyVerifier;
} {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const publicJwk = { ...publicKey.export({ format: 'jwk' }), kid };
  return {
    signer: ReplySigner.fromJwk({ ...privateKey.export({ format: 'jwk' }), kid }),
    publicJwk,
    verifier: ReplyVerifier.fromJwks({ keys: [publicJwk] }),
  };
}

/** The dev JWKS render and redaction pin by default to check resolve replies. */
export function devReplyJwks(): unknown {
  return JSON.parse(readFileSync(join(DEV_DIR, 'reply-signing-jwks.json'), 'utf8')) as unknown;
}

/**
 * A service calling `secrets.v1.resolve` as render or redaction do (ARCHITECTURE.md §6): a reply key of its own, a
 * token confirming it (`cnf.jkt`), a fresh nonce per request, and replies checked against the pinned dev key.
 */
export class ResolveCaller {
  private readonly verifier = ReplyVerifier.fromJwks(devReplyJwks());

  private constructor(
    readonly publicJwk: ReplyPublicJwk,
    readonly privateKey: ReplyPrivateKey,
    /** A service token with `scopes` whose `cnf.jkt` names `publicJwk`. */
    readonly token: string,
  ) {}

  /** `ttlMs`: how long the private key remembers derived content keys (render's reuse; default none). */
  static async create(
    tokens: TestTokens,
    service: string,
    scopes: readonly string[],
    ttlMs = 0,
  ): Promise<ResolveCaller> {
    assertOutsideClient(service);
    const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs });
    const token = await tokens.mint({
      sub: `service:${service}`,
      org: service,
      org_type: 'service',
      scope: scopes.join(' '),
      cnf: { jkt: replyKeyThumbprint(publicJwk) },
    });
    return new ResolveCaller(publicJwk, privateKey, token);
  }

  /**
   * A caller for an existing test token: a live service token is minted again with the same claims plus `cnf` for a
   * fresh reply key, as a service mints one per resolve; any other token (a user's, an expired or a garbled one) is
   * kept as it is, so the call is refused for its own reason.
   */
  static async bindToken(tokens: TestTokens, token: string): Promise<ResolveCaller> {
    const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs: 0 });
    const claims = claimsOf(token);
    const now = Math.floor(Date.now() / 1000);
    if (claims?.org_type !== 'service' || typeof claims.exp !== 'number' || claims.exp <= now) {
      return new ResolveCaller(publicJwk, privateKey, token);
    }
    // A fresh `jti` (where tokens carry one) comes with the new token: the old one may be presented elsewhere too.
    const { iat: _iat, exp, jti: _jti, ...rest } = claims;
    const bound = await tokens.mint(
      { ...rest, cnf: { jkt: replyKeyThumbprint(publicJwk) } },
      { expiresInSeconds: Math.max(1, exp - now) },
    );
    return new ResolveCaller(publicJwk, privateKey, bound);
  }

  /** A resolve request body: `request` plus this caller's reply key and a fresh nonce. */
  request<T extends { organizationId: string }>(request: T): T & { replyKey: ReplyPublicJwk; nonce: string } {
    return { replyKey: this.publicJwk, nonce: newReplyNonce(), ...request };
  }

  /** Checks a reply's signature against the request it answers, then decrypts it. */
  async open(
    request: { organizationId: string; customerOrganizationId?: string; nonce: string },
    reply: { ciphertext?: unknown; signature?: unknown },
  ): Promise<unknown> {
    this.verifier.verify(reply.signature, reply.ciphertext, {
      organizationId: request.organizationId,
      customerOrganizationId: request.customerOrganizationId ?? null,
      nonce: request.nonce,
      replyKeyThumbprint: replyKeyThumbprint(this.publicJwk),
    });
    return decryptWithReplyKey(this.privateKey, reply.ciphertext as string);
  }
}

/** The unverified claims of a test's own JWS, or undefined when it is not one. */
function claimsOf(token: string): Record<string, unknown> | undefined {
  try {
    const claims: unknown = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8'));
    return typeof claims === 'object' && claims !== null ? (claims as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `secrets.v1.resolve` as a service sends it with `token` (bound to a fresh reply key, see `bindToken`), for a test that
 * checks the reply itself: the reply, and its opened content when it was not refused.
 */
export async function resolveAs(
  client: TestNatsClient,
  tokens: TestTokens,
  token: string,
  request: { organizationId: string } & Record<string, unknown>,
): Promise<{ reply: Awaited<ReturnType<TestNatsClient['request']>>; opened?: unknown }> {
  const caller = await ResolveCaller.bindToken(tokens, token);
  const body = caller.request(request);
  const reply = await client.request<{ ciphertext: string; signature: string }>('secrets.v1.resolve', body, {
    token: caller.token,
  });
  return { reply, opened: reply.status === undefined ? await caller.open(body, reply.body) : undefined };
}
