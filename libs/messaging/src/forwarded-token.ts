import { createHash } from 'node:crypto';
import { type CommonConfig, type ServiceName } from '@platform/config';
import { TokenError, TokenErrorCode, TokenVerifier } from '@platform/crypto';
import { type Logger } from 'pino';
import { PlatformError } from './errors';
import { PLATFORM_SERVICE_SCOPES, type Principal, principalFromClaims } from './principal';
import { reloadJwks } from './service-token-keys';

/**
 * The header a platform service sets on a call it makes for its own caller: `Bearer <the caller's token>`, exactly as
 * the caller presented it (ARCHITECTURE.md §4). The callee verifies it itself and records whom it names.
 */
export const ON_BEHALF_OF_HEADER = 'On-Behalf-Of';

/** The platform services whose calls may carry a caller's token: render resolves for the user or deployer asking. */
export const FORWARDING_SERVICES: readonly ServiceName[] = ['render'];

/**
 * A platform service's own principal (its single-use token): `sub` `service:<name>`, `org` `<name>`, a platform
 * service name. Such a caller is never forwarded as a requester; its token was spent on the first call.
 */
export function isPlatformService(principal: Principal): boolean {
  return (
    principal.orgType === 'service' &&
    Object.hasOwn(PLATFORM_SERVICE_SCOPES, principal.org) &&
    principal.sub === `service:${principal.org}`
  );
}

/** The `obo` claim of a forwarding service's own token: the base64url SHA-256 of the token it forwards. */
export function forwardedTokenDigest(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('base64url');
}

/** The token of a `Bearer <token>` header value, or undefined when it is not one. */
export function bearerTokenOf(header: string): string | undefined {
  return /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header.trim())?.[1];
}

function forwardedRefusal(reason: string): PlatformError {
  return new PlatformError('UNAUTHENTICATED', `invalid forwarded token (${ON_BEHALF_OF_HEADER}): ${reason}`);
}

/**
 * Verifies the caller's token that a forwarding service passed on (`On-Behalf-Of`), as that service's guard did:
 * signature, issuer, lifetime caps, key policy and expiry, with the audience of the service it came through (a user's
 * token for render names `render`, not the callee). One verifier per forwarding service, each reloading AUTH_JWKS_FILE
 * like the guard's.
 */
export class ForwardedTokenVerifier {
  private constructor(
    private readonly verifiers: ReadonlyMap<string, TokenVerifier>,
    private readonly stopReloads: readonly (() => void)[],
  ) {}

  static async create(
    config: CommonConfig,
    logger: Logger,
    via: readonly ServiceName[] = FORWARDING_SERVICES,
  ): Promise<ForwardedTokenVerifier> {
    const verifiers = new Map<string, TokenVerifier>();
    for (const audience of via) {
      verifiers.set(
        audience,
        await TokenVerifier.fromJwks(config.authJwks.json, {
          policy: {
            audience,
            issuers: config.authIssuers,
            serviceScopes: new Map(Object.entries(PLATFORM_SERVICE_SCOPES)),
            maxUserLifetimeSeconds: config.authMaxUserTokenSeconds,
            maxServiceLifetimeSeconds: config.authMaxServiceTokenSeconds,
          },
          replayCacheSize: config.authReplayCacheSize,
          refuseSymmetricKeys: config.nodeEnv === 'production',
        }),
      );
    }
    const stops = [...verifiers.values()].map((verifier) => reloadJwks({ config }, verifier, logger));
    return new ForwardedTokenVerifier(verifiers, stops);
  }

  /**
   * Who `caller` asked on behalf of: undefined without the header. The header is accepted only from a forwarding
   * platform service (else PERMISSION_DENIED) whose own token binds it (`obo`); a token that fails any check is
   * UNAUTHENTICATED, naming the header.
   */
  async requesterOf(caller: Principal, header: string | undefined): Promise<Principal | undefined> {
    const bound = caller.orgType === 'service' ? caller.forwardedTokenDigest : undefined;
    if (header === undefined) {
      if (bound === undefined) return undefined;
      throw new PlatformError(
        'UNAUTHENTICATED',
        `invalid token: it binds a forwarded token (obo) but the request has no ${ON_BEHALF_OF_HEADER} header`,
      );
    }
    const verifier = isPlatformService(caller) ? this.verifiers.get(caller.org) : undefined;
    if (verifier === undefined) {
      throw new PlatformError(
        'PERMISSION_DENIED',
        `${ON_BEHALF_OF_HEADER} is accepted only from ${FORWARDING_SERVICES.map((name) => `service:${name}`).join(', ')}`,
      );
    }
    const token = bearerTokenOf(header);
    if (token === undefined) throw forwardedRefusal(`the header must be "Bearer <token>"`);
    if (bound === undefined) throw forwardedRefusal("the caller's own token does not bind it (obo)");
    if (bound !== forwardedTokenDigest(token)) {
      throw forwardedRefusal("it is not the token the caller's own token binds (obo)");
    }
    let requester: Principal;
    try {
      requester = principalFromClaims(await verifier.verify(token));
    } catch (error) {
      if (error instanceof TokenError && error.code === TokenErrorCode.REPLAY_CACHE_FULL) {
        throw new PlatformError('UNAVAILABLE', error.message);
      }
      if (error instanceof TokenError) throw forwardedRefusal(error.message);
      if (error instanceof PlatformError && error.code === 'UNAUTHENTICATED') {
        throw forwardedRefusal(error.message.replace(/^invalid token: /, ''));
      }
      throw error;
    }
    if (isPlatformService(requester)) {
      throw forwardedRefusal("a platform service's own single-use token is never forwarded");
    }
    return requester;
  }

  close(): void {
    for (const stop of this.stopReloads) stop();
  }
}
