import {
  CryptoError,
  CryptoErrorCode,
  type ReplyBinding,
  type ReplySigner,
  ReplyEncrypter,
  replyKeyThumbprint,
} from '@platform/crypto';
import { type Principal } from '@platform/messaging';
import { SecretsError, SecretsErrorCode } from '../secrets/secrets.error';

/** A resolve reply as it goes on the wire: the JWE to the caller's key and the signature binding it to the request. */
export interface SealedReply {
  readonly ciphertext: string;
  readonly signature: string;
}

/** What a resolve request names about its reply (ARCHITECTURE.md §6). */
export interface ReplyAddress {
  readonly organizationId: string;
  readonly customerOrganizationId?: string;
  readonly nonce: string;
  readonly replyKey?: unknown;
}

/**
 * Encrypt-then-sign for resolve replies: the payload is encrypted to the caller's reply key, and the ciphertext signed
 * with this service's reply-signing key together with the organization, customer, nonce and reply key it answers.
 * The reply key must be the one the caller's token confirms (`cnf.jkt`), so a captured token cannot have values
 * encrypted to a key of the captor's choosing.
 */
export class ResolveReplySealer {
  constructor(
    private readonly signer: ReplySigner,
    private readonly encrypter: ReplyEncrypter = new ReplyEncrypter(),
  ) {}

  /** The binding of a request to its caller; PERMISSION_DENIED unless the token confirms exactly this reply key. */
  bind(principal: Principal, address: ReplyAddress): ReplyBinding {
    let thumbprint: string;
    try {
      thumbprint = replyKeyThumbprint(address.replyKey);
    } catch {
      throw new SecretsError(
        SecretsErrorCode.INVALID_ARGUMENT,
        'replyKey must be a public EC P-256 JWK ({kty: "EC", crv: "P-256", x, y})',
        { field: 'replyKey' },
      );
    }
    const confirmed = principal.orgType === 'service' ? principal.confirmedKey : undefined;
    if (confirmed === undefined) {
      throw new SecretsError(
        SecretsErrorCode.PERMISSION_DENIED,
        'resolve needs a service token that confirms the reply key (claim cnf.jkt)',
      );
    }
    if (confirmed !== thumbprint) {
      throw new SecretsError(
        SecretsErrorCode.PERMISSION_DENIED,
        'replyKey is not the key the service token confirms (claim cnf.jkt)',
      );
    }
    return {
      organizationId: address.organizationId,
      customerOrganizationId: address.customerOrganizationId ?? null,
      nonce: address.nonce,
      replyKeyThumbprint: thumbprint,
    };
  }

  /** Encrypts `payload` to the bound reply key and signs the result; a key node:crypto refuses is the caller's error. */
  seal(binding: ReplyBinding, replyKey: unknown, payload: unknown): SealedReply {
    let ciphertext: string;
    try {
      ciphertext = this.encrypter.encrypt(replyKey, payload);
    } catch (error) {
      if (error instanceof CryptoError && error.code === CryptoErrorCode.BAD_KEY_MATERIAL) {
        throw new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, 'replyKey is not a public EC P-256 key', {
          field: 'replyKey',
        });
      }
      throw error;
    }
    return { ciphertext, signature: this.signer.sign(binding, ciphertext) };
  }
}
