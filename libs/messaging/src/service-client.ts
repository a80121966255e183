import { randomUUID } from 'node:crypto';
import { ErrorCode as NatsErrorCode, type NatsConnection, NatsError, headers as natsHeaders } from 'nats';
import { type TokenSigner } from '@platform/crypto';
import { PlatformError, isWireError } from './errors';
import { type ServiceScope } from './principal';

/** A service token lives long enough to cross the bus once; each call mints its own (ARCHITECTURE.md §4). */
export const SERVICE_TOKEN_SECONDS = 60;

/** Mints the service's own single-use tokens: one per call, naming the callee, with a fresh `jti`. */
export class ServiceTokenIssuer {
  constructor(
    private readonly signer: TokenSigner,
    private readonly service: string,
    private readonly scopes: readonly ServiceScope[],
    private readonly issuer: string,
  ) {}

  /** A token for one call to `audience` (a service name); `extra` claims (such as `cnf`) are added to it. */
  async token(audience: string, extra?: Readonly<Record<string, unknown>>): Promise<string> {
    const claims = {
      ...extra,
      iss: this.issuer,
      sub: `service:${this.service}`,
      org: this.service,
      org_type: 'service',
      scope: this.scopes.join(' '),
      aud: audience,
      jti: randomUUID(),
    };
    return this.signer.sign(claims, { expiresInSeconds: SERVICE_TOKEN_SECONDS });
  }
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Calls another platform service over plain-JSON NATS with this service's token; dependency failures become UNAVAILABLE. */
export class ServiceClient {
  constructor(
    private readonly connection: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly tokens: ServiceTokenIssuer,
  ) {}

  /**
   * `claims`: extra token claims for this call only, such as `cnf` binding resolve's reply key to the token.
   * `headers`: further request headers, such as `On-Behalf-Of` (never `Authorization`, which is this service's own).
   */
  async request<Reply>(
    subject: string,
    body: unknown,
    options: {
      timeoutMs: number;
      claims?: Readonly<Record<string, unknown>>;
      headers?: ReadonlyMap<string, string>;
    },
  ): Promise<Reply> {
    const headers = natsHeaders();
    const callee = subject.split('.')[0];
    for (const [name, value] of options.headers ?? []) headers.set(name, value);
    headers.set('Authorization', `Bearer ${await this.tokens.token(callee, options.claims)}`);
    let reply;
    try {
      reply = await this.connection.request(this.subjectPrefix + subject, encoder.encode(JSON.stringify(body)), {
        timeout: options.timeoutMs,
        headers,
      });
    } catch (error) {
      if (
        error instanceof NatsError &&
        (error.code === NatsErrorCode.NoResponders || error.code === NatsErrorCode.Timeout)
      ) {
        throw new PlatformError('UNAVAILABLE', `${callee} service is unavailable`);
      }
      if (error instanceof NatsError) throw new PlatformError('UNAVAILABLE', 'messaging is unavailable');
      throw error;
    }
    const parsed = JSON.parse(decoder.decode(reply.data)) as { error?: unknown } & Reply;
    if (reply.headers?.get('Nats-Service-Error-Code') && isWireError(parsed.error)) {
      throw new DependencyError(subject, parsed.error.code, parsed.error.message);
    }
    return parsed;
  }
}

/** An error reply from another service; the caller decides what its own caller sees. */
export class DependencyError extends Error {
  constructor(
    readonly subject: string,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'DependencyError';
  }
}
