import { type SecretScope } from '@platform/contracts';
import { DependencyError, type Principal, isWireError } from '@platform/messaging';
import { type MsgHdrs, type NatsConnection, NatsError, headers as natsHeaders } from 'nats';
import { type RenderScope } from './render-scope';
import { RenderError, RenderErrorCode } from './render.error';
import { type SecretMetadataSource, secretsFailure } from './secret-values';

/** A key that exists in scope, with the version and scope a render would use. */
export interface KeyInScope {
  readonly key: string;
  readonly version: number;
  readonly scope: SecretScope;
}

interface ListedSecret {
  readonly key: string;
  readonly customerOrganizationId?: string | null;
  readonly version: number;
}

interface ListReply {
  readonly secrets: readonly ListedSecret[];
  readonly nextPageToken?: string;
}

/** Which keys exist in a scope, as the caller may learn it. */
export interface KeyCatalog {
  existing(
    principal: Principal,
    scope: RenderScope,
    authorization: string,
    keys: readonly string[] | 'all',
  ): Promise<Map<string, KeyInScope>>;
}

const LIST_PAGE_SIZE = 1000;
const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * Which keys exist in a render scope, for `render.v1.validate`, from metadata only. `secrets.v1.list` called with
 * the caller's own token sees exactly what the caller may see; a vendor user's list covers the whole scope, and so
 * does a customer user's, whose scope is its own keys only (`customerOnly`). A service may not list at all, so its
 * keys are asked of `secrets.v1.resolve` with `metadataOnly` (render's token): version and scope, no value.
 */
export class SecretKeyCatalog implements KeyCatalog {
  constructor(
    private readonly nats: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly metadata: SecretMetadataSource,
    private readonly timeoutMs: number,
  ) {}

  async existing(
    principal: Principal,
    scope: RenderScope,
    authorization: string,
    keys: readonly string[] | 'all',
  ): Promise<Map<string, KeyInScope>> {
    const found =
      principal.orgType === 'service' ? new Map<string, KeyInScope>() : await this.listed(scope, authorization);
    const wanted = (key: string) => keys === 'all' || keys.includes(key);
    const existing = new Map([...found].filter(([key]) => wanted(key)));
    if (principal.orgType === 'vendor' || scope.customerOnly) return existing;
    const unconfirmed = keys === 'all' ? 'all' : keys.filter((key) => !existing.has(key));
    if (unconfirmed !== 'all' && unconfirmed.length === 0) return existing;
    const confirmed = await this.metadata.existing(scope, unconfirmed);
    for (const [key, { version, scope: valueScope }] of confirmed) {
      if (!existing.has(key)) existing.set(key, { key, version, scope: valueScope });
    }
    return existing;
  }

  /** Every key of the scope the caller's list shows; a customer's key wins over the vendor-level one. */
  private async listed(scope: RenderScope, authorization: string): Promise<Map<string, KeyInScope>> {
    const keys = new Map<string, KeyInScope>();
    let pageToken: string | undefined;
    do {
      // A vendor's list without a filter is the whole organization (every customer too), filtered here.
      const page = await this.request<ListReply>(
        'secrets.v1.list',
        { pageSize: LIST_PAGE_SIZE, ...(pageToken ? { pageToken } : {}) },
        authorization,
      );
      for (const secret of page.secrets) {
        const customer = secret.customerOrganizationId ?? null;
        if (customer !== null && customer !== scope.customerOrganizationId) continue;
        if (customer === null && keys.has(secret.key)) continue;
        keys.set(secret.key, {
          key: secret.key,
          version: secret.version,
          scope: customer === null ? 'vendor' : 'customer',
        });
      }
      pageToken = page.nextPageToken;
    } while (pageToken);
    return keys;
  }

  private async request<Reply>(subject: string, body: unknown, authorization: string): Promise<Reply> {
    const headers: MsgHdrs = natsHeaders();
    headers.set('Authorization', authorization);
    try {
      const reply = await this.nats.request(this.subjectPrefix + subject, encoder.encode(JSON.stringify(body)), {
        timeout: this.timeoutMs,
        headers,
      });
      const parsed = JSON.parse(decoder.decode(reply.data)) as { error?: unknown } & Reply;
      if (reply.headers?.get('Nats-Service-Error-Code') && isWireError(parsed.error)) {
        throw new DependencyError(subject, parsed.error.code, parsed.error.message);
      }
      return parsed;
    } catch (error) {
      if (error instanceof NatsError) {
        throw new RenderError(RenderErrorCode.SECRETS_UNAVAILABLE, 'the secrets service is unavailable; retry later');
      }
      throw secretsFailure(error);
    }
  }
}
