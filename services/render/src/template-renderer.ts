import { type Principal, type Scope, assertIdentifier, bearerTokenOf, isPlatformService } from '@platform/messaging';
import { renderFormatOf } from './output-format';
import { RenderError, RenderErrorCode } from './render.error';
import { assertMayRenderValues, renderScope } from './render-scope';
import { type KeyCatalog, type KeyInScope } from './secret-key-catalog';
import {
  type ResolvedValue,
  SECRET_KEY_PATTERN,
  type SecretValueSource,
  assertPinVersions,
  keysToResolve,
} from './secret-values';
import { type Parsed } from './template-jobs';
import { type TemplateWork } from './template-pool';

export interface RenderInput {
  readonly template: string;
  readonly format: string;
  readonly customerOrganizationId?: string;
  readonly organizationId?: string;
  readonly pins: Readonly<Record<string, number>>;
  readonly deploymentId?: string;
  /** Render values past their expiry too: admin users and services only. */
  readonly allowExpired?: boolean;
}

export interface Rendered {
  readonly output: string;
  /** The secrets the output was rendered from, by key. */
  readonly references: KeyInScope[];
}

export interface ValidateInput {
  readonly template: string;
  readonly format: string;
  readonly customerOrganizationId?: string;
  readonly organizationId?: string;
  readonly required: readonly string[];
}

export interface Validation {
  readonly valid: boolean;
  readonly references: KeyInScope[];
  readonly missing: string[];
  /** Referenced keys a render never needs, so never missing (unless required). */
  readonly optional: string[];
  readonly errors: string[];
}

/**
 * Whose share of the template workers a request uses: a user's own organization (a customer user's is its own,
 * not its vendor's), and for a service the scope it renders, so one vendor's deployments cannot crowd out another's.
 */
export function tenantOf(principal: Principal, scope: Scope): string {
  if (principal.orgType !== 'service') return `user:${principal.org}`;
  return `scope:${scope.organizationId}/${scope.customerOrganizationId ?? ''}`;
}

/** Expired values are withheld unless asked for, and only an admin user or a service (render:any) may ask. */
function assertMayRenderExpired(principal: Principal): void {
  if (principal.orgType !== 'service' && principal.role !== 'admin') {
    throw new RenderError(RenderErrorCode.PERMISSION_DENIED, 'allowExpired needs the admin role');
  }
}

/**
 * A template that needs a key whose value expired fails naming it (the first by key), never rendering without it; a
 * template that reads `.Secrets` dynamically needs every key, so any expired key in scope fails it.
 */
function assertNoneExpired(expired: ReadonlyMap<string, string> | undefined): void {
  if (!expired || expired.size === 0) return;
  const [key, at] = [...expired].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))[0];
  throw new RenderError(RenderErrorCode.SECRET_EXPIRED, `secret ${key} expired at ${at}`, { key, expiresAt: at });
}

const byKey = (a: KeyInScope, b: KeyInScope) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * `render.v1.render` and `render.v1.validate` (ARCHITECTURE.md §3, §7): authorize, parse (cached), pull exactly
 * the referenced values, execute, check the format. Parsing and executing run on template workers (TemplateWork);
 * no error said to the caller after values were resolved carries one (see callerFailure in template-jobs.ts).
 */
export class TemplateRenderer {
  constructor(
    private readonly work: TemplateWork,
    private readonly values: SecretValueSource,
    private readonly catalog: KeyCatalog,
    private readonly maxTemplateBytes: number,
  ) {}

  /**
   * `authorization`: the caller's own `Authorization` header, which the guard verified. It is forwarded to secrets
   * (`On-Behalf-Of`) so the read is recorded as the caller's, unless the caller is a platform service, whose
   * single-use token was spent on this call (its render is recorded as render's alone).
   */
  async render(principal: Principal, request: RenderInput, authorization?: string): Promise<Rendered> {
    const scope = renderScope(principal, request);
    assertMayRenderValues(principal);
    const format = renderFormatOf(request.format);
    if (request.deploymentId !== undefined) assertIdentifier('deploymentId', request.deploymentId);
    assertPins(request.pins);
    if (request.allowExpired) assertMayRenderExpired(principal);
    const tenant = tenantOf(principal, scope);
    const { references: referenced } = await this.parse(tenant, request.template);
    const keys = keysToResolve(referenced);
    const { values: resolved, expired } =
      keys !== 'all' && keys.length === 0
        ? { values: new Map<string, ResolvedValue>(), expired: undefined }
        : await this.values.resolve(scope, keys, request.pins, {
            deploymentId: request.deploymentId,
            onBehalfOf:
              authorization === undefined || isPlatformService(principal) ? undefined : bearerTokenOf(authorization),
            ...(request.allowExpired ? { allowExpired: true } : {}),
          });
    assertNoneExpired(expired);
    assertPinnedVersionsFound(request.pins, referenced, resolved);

    const { output, used } = await this.work.execute(tenant, {
      kind: 'execute',
      source: request.template,
      format,
      values: [...resolved].map(([key, { value }]) => [key, value] as const),
    });
    const references = used.map((key) => {
      const { version, scope: valueScope } = resolved.get(key)!;
      return { key, version, scope: valueScope };
    });
    return { output, references: references.sort(byKey) };
  }

  /**
   * Parses, lists references and reports which referenced or required keys do not exist in scope, without
   * rendering. `authorization` is the caller's own `Authorization` header, forwarded to `secrets.v1.list`.
   */
  async validate(principal: Principal, request: ValidateInput, authorization: string): Promise<Validation> {
    const scope = renderScope(principal, request);
    renderFormatOf(request.format);
    request.required.forEach((key, index) => {
      if (!SECRET_KEY_PATTERN.test(key)) {
        throw new RenderError(RenderErrorCode.INVALID_ARGUMENT, `required[${index}] is not a valid secret key`, {
          field: `required[${index}]`,
        });
      }
    });
    let referenced: readonly string[] = [];
    let checkedOnly: readonly string[] = [];
    const errors: string[] = [];
    try {
      ({ references: referenced, optional: checkedOnly } = await this.parse(
        tenantOf(principal, scope),
        request.template,
      ));
    } catch (error) {
      if (!(error instanceof RenderError) || error.code !== RenderErrorCode.TEMPLATE_PARSE_ERROR) throw error;
      errors.push(error.message);
    }
    const dynamic = referenced.includes('*');
    const named = [...new Set([...referenced.filter((key) => key !== '*'), ...request.required])].sort();
    const lookup = dynamic ? 'all' : named.filter((key) => SECRET_KEY_PATTERN.test(key));
    const existing =
      lookup !== 'all' && lookup.length === 0
        ? new Map<string, KeyInScope>()
        : await this.catalog.existing(principal, scope, authorization, lookup);
    const references = [...existing.values()].filter((found) => dynamic || referenced.includes(found.key)).sort(byKey);
    const optional = checkedOnly.filter((key) => !request.required.includes(key));
    const missing = named.filter((key) => !existing.has(key) && !optional.includes(key));
    return { valid: errors.length === 0 && missing.length === 0, references, missing, optional, errors };
  }

  private parse(tenant: string, source: string): Promise<Parsed> {
    const bytes = Buffer.byteLength(source);
    if (bytes > this.maxTemplateBytes) {
      throw new RenderError(
        RenderErrorCode.TEMPLATE_TOO_LARGE,
        `template is ${bytes} bytes, more than the limit of ${this.maxTemplateBytes}`,
        { sizeBytes: bytes, limitBytes: this.maxTemplateBytes },
      );
    }
    return this.work.parse(tenant, { kind: 'parse', source });
  }
}

function assertPins(pins: Readonly<Record<string, number>>): void {
  for (const key of Object.keys(pins)) {
    if (!SECRET_KEY_PATTERN.test(key)) {
      throw new RenderError(RenderErrorCode.INVALID_ARGUMENT, 'pins names a key that is not a valid secret key', {
        field: 'pins',
      });
    }
  }
  assertPinVersions(pins);
}

/**
 * A pin the template reads whose version secrets did not return (the key never reached it, or does not exist):
 * said plainly, rather than as the template's `map has no entry for key`.
 */
function assertPinnedVersionsFound(
  pins: Readonly<Record<string, number>>,
  referenced: readonly string[],
  resolved: ReadonlyMap<string, ResolvedValue>,
): void {
  const reads = (key: string) => referenced.includes('*') || referenced.includes(key);
  for (const [key, version] of Object.entries(pins)) {
    if (reads(key) && resolved.get(key)?.version !== version) {
      throw new RenderError(RenderErrorCode.INVALID_ARGUMENT, `secret ${key} has no version ${version}`, {
        field: `pins.${key}`,
      });
    }
  }
}
