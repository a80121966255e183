import { ErrorCode as NatsErrorCode, type NatsConnection, NatsError, headers as natsHeaders } from 'nats';
import { type TokenSigner } from '@platform/crypto';
import { PlatformError, isWireError } from './errors';
import { type ServiceScope } from './principal';

const SERVICE_TOKEN_SECONDS = 300;
/** Renew a little before expiry so a token never expires in flight. */
const RENEW_BEFORE_SECONDS = 60;

/** Mints the service's own short-lived tokens (ARCHITECTURE.md §4) and reuses each until shortly before it expires. */
export class ServiceTokenIssuer {
  private cached?: { token: string; renewAt: number };

  constructor(
    private readonly signer: TokenSigner,
    private readonly service: string,
    private readonly scopes: readonly ServiceScope[],
  ) {}

  /** A token for one call; `extra` claims (such as `cnf`) make a token of their own, never cached. */
  async token(extra?: Readonly<Record<string, unknown>>): Promise<string> {
    const now = Math.floor(Date.now() / 1000);
    const claims = {
      sub: `service:${this.service}`,
      org: this.service,
      org_type: 'service',
      scope: this.scopes.join(' '),
    };
    if (extra !== undefined) {
      return this.signer.sign({ ...extra, ...claims }, { expiresInSeconds: SERVICE_TOKEN_SECONDS, now });
    }
    if (this.cached && now < this.cached.renewAt) return this.cached.token;
    const token = await this.signer.sign(claims, { expiresInSeconds: SERVICE_TOKEN_SECONDS, now });
    this.cached = { token, renewAt: now + SERVICE_TOKEN_SECONDS - RENEW_BEFORE_SECONDS };
    return token;
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

  /** `claims`: extra token claims for this call only, such as `cnf` binding resolve's reply key to the token. */
  async request<Reply>(
    subject: string,
    body: unknown,
    options: { timeoutMs: number; claims?: Readonly<Record<string, unknown>> },
  ): Promise<Reply> {
    const headers = natsHeaders();
    headers.set('Authorization', `Bearer ${await this.tokens.token(options.claims)}`);
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
        throw new PlatformError('UNAVAILABLE', `${subject.split('.')[0]} service is unavailable`);
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
