import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type ReplyPrivateKey,
  type ReplyPublicJwk,
  ReplyVerifier,
  decryptWithReplyKey,
  generateReplyKeyPair,
  newReplyNonce,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type TestTokens } from './tokens';

const DEV_DIR = join(__dirname, '../../../deploy/dev');

/** The dev reply-signing private key the secrets service signs resolve replies with by default. */
export function devReplySigningKey(): unknown {
  return JSON.parse(readFileSync(join(DEV_DIR, 'reply-signing-key.json'), 'utf8')) as unknown;
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

  static async create(tokens: TestTokens, service: string, scopes: readonly string[]): Promise<ResolveCaller> {
    const { publicJwk, privateKey } = await generateReplyKeyPair({ ttlMs: 0 });
    const token = await tokens.mint({
      sub: `service:${service}`,
      org: service,
      org_type: 'service',
      scope: scopes.join(' '),
      cnf: { jkt: replyKeyThumbprint(publicJwk) },
    });
    return new ResolveCaller(publicJwk, privateKey, token);
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
