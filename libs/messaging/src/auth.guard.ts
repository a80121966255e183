import { type CanActivate, type ExecutionContext, Injectable, createParamDecorator } from '@nestjs/common';
import { type NatsContext } from '@nestjs/microservices';
import { TokenError, TokenErrorCode, type TokenVerifier } from '@platform/crypto';
import { PlatformError } from './errors';
import { type Principal, principalFromClaims } from './principal';
import { type RequestHooks } from './request-metrics';

const principals = new WeakMap<object, Principal>();

export function headerOf(context: NatsContext, name: string): string | undefined {
  const value = context.getHeaders()?.get(name);
  return value ? value : undefined;
}

/** The principal the guard verified for this request. */
export function principalOf(context: NatsContext): Principal {
  const principal = principals.get(context);
  if (!principal) throw new PlatformError('UNAUTHENTICATED', 'missing bearer token');
  return principal;
}

/**
 * Verifies `Authorization: Bearer <JWT>` on every request before anything else runs; any failure is UNAUTHENTICATED.
 * Then runs the service's `before` hook, which may refuse the authenticated request (e.g. its database is down).
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly hooks: RequestHooks = {},
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() !== 'rpc') return true;
    const nats = context.switchToRpc().getContext<NatsContext>();
    const header = headerOf(nats, 'Authorization');
    if (!header) throw new PlatformError('UNAUTHENTICATED', 'missing bearer token');
    const match = /^Bearer ([A-Za-z0-9_.-]+)$/.exec(header.trim());
    if (!match) throw new PlatformError('UNAUTHENTICATED', 'the Authorization header must be "Bearer <token>"');
    try {
      const { claims, service } = await this.verifier.verifyWithSigner(match[1]);
      const principal = principalFromClaims(claims);
      principals.set(
        nats,
        service !== undefined && principal.orgType === 'service'
          ? { ...principal, signedByService: service }
          : principal,
      );
    } catch (error) {
      if (error instanceof TokenError && error.code === TokenErrorCode.REPLAY_CACHE_FULL) {
        throw new PlatformError('UNAVAILABLE', error.message);
      }
      if (error instanceof TokenError) throw new PlatformError('UNAUTHENTICATED', `invalid token: ${error.message}`);
      throw error;
    }
    this.hooks.before?.();
    return true;
  }
}

/** Handler parameter: the verified caller. */
export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext) =>
  principalOf(context.switchToRpc().getContext<NatsContext>()),
);

/** Handler parameter: the raw NATS context (headers such as `Idempotency-Key`). */
export const RequestContext = createParamDecorator((_: unknown, context: ExecutionContext) =>
  context.switchToRpc().getContext<NatsContext>(),
);
