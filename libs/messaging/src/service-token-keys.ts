import { ConfigError } from '@platform/config';
import { TokenError, TokenSigner, TokenVerifier } from '@platform/crypto';
import { readFile } from 'node:fs/promises';
import { isAbsolute } from 'node:path';
import { type Logger } from 'pino';
import type { ServiceDefinition } from './bootstrap';
import { PLATFORM_SERVICE_SCOPES } from './principal';

function serviceScopesMap(): ReadonlyMap<string, readonly string[]> {
  return new Map(Object.entries(PLATFORM_SERVICE_SCOPES));
}

/**
 * The service's token verifier and its own signer (ARCHITECTURE.md §4). Refuses to start, naming the setting, when
 * production meets an `oct` key, when the definition asks for scopes its key may not sign, or when AUTH_JWKS does not
 * trust the service's own key for this service (every call it made would be refused).
 */
export async function serviceTokenKeys(
  definition: ServiceDefinition,
): Promise<{ verifier: TokenVerifier; signer: TokenSigner }> {
  const { config, name } = definition;
  const production = config.nodeEnv === 'production';
  const allowed: readonly string[] = PLATFORM_SERVICE_SCOPES[name];
  const extra = definition.scopes.filter((scope) => !allowed.includes(scope));
  if (extra.length > 0) {
    throw new ConfigError([
      `${name} asks for scopes its key may not sign: ${extra.join(', ')} (PLATFORM_SERVICE_SCOPES)`,
    ]);
  }
  const named = async <T>(variable: string, build: () => Promise<T>): Promise<T> => {
    try {
      return await build();
    } catch (error) {
      if (error instanceof TokenError) throw new ConfigError([`${variable}: ${error.message}`]);
      throw error;
    }
  };
  const verifier = await named('AUTH_JWKS', () =>
    TokenVerifier.fromJwks(config.authJwks.json, {
      policy: {
        audience: name,
        issuers: config.authIssuers,
        serviceScopes: serviceScopesMap(),
        maxUserLifetimeSeconds: config.authMaxUserTokenSeconds,
        maxServiceLifetimeSeconds: config.authMaxServiceTokenSeconds,
      },
      replayCacheSize: config.authReplayCacheSize,
      refuseSymmetricKeys: production,
    }),
  );
  const signer = await named('SERVICE_SIGNING_KEY', () =>
    TokenSigner.fromJwk(config.serviceSigningKey.json, { refuseSymmetricKeys: production }),
  );
  const own = verifier.trustedKeys.find((key) => key.kid === signer.kid);
  if (own?.signs !== `service:${name}`) {
    throw new ConfigError([
      `SERVICE_SIGNING_KEY: AUTH_JWKS has no key "${signer.kid}" with "signs": "service:${name}"`,
    ]);
  }
  if (!config.authIssuers.includes(config.serviceTokenIssuer)) {
    throw new ConfigError(['SERVICE_TOKEN_ISSUER must be one of AUTH_ISSUERS']);
  }
  return { verifier, signer };
}

/**
 * Re-reads AUTH_JWKS_FILE every AUTH_JWKS_RELOAD_SECONDS and swaps the keys when its content changed, so a removed
 * key stops verifying without a restart. A file that cannot be read or imported keeps the current keys, loudly.
 */
export function reloadJwks(
  definition: Pick<ServiceDefinition, 'config'>,
  verifier: TokenVerifier,
  logger: Logger,
): () => void {
  const { authJwks, authJwksReloadSeconds } = definition.config;
  if (!isAbsolute(authJwks.source)) return () => undefined;
  const path = authJwks.source;
  let last = JSON.stringify(authJwks.json);
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    void (async () => {
      try {
        const text = JSON.stringify(JSON.parse(await readFile(path, 'utf8')));
        if (text === last) return;
        await verifier.replaceKeys(JSON.parse(text));
        last = text;
        logger.info({ path, keys: verifier.trustedKeys }, 'AUTH_JWKS reloaded');
      } catch (error) {
        const reason = error instanceof TokenError ? error.message : 'cannot read it as JSON';
        logger.error({ path, reason }, 'AUTH_JWKS reload failed; keeping the keys loaded before');
      } finally {
        running = false;
      }
    })();
  }, authJwksReloadSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
