import { type Principal, assertIdentifier } from '@platform/messaging';
import { type Template, TemplateErrorCode, TemplateExecutionError, TemplateParseError } from '@platform/template';
import { checkOutput, printedEscapeFor, renderFormatOf } from './output-format';
import { RenderError, RenderErrorCode } from './render.error';
import { assertMayRenderValues, renderScope } from './render-scope';
import { MASK, SecretScrubber } from './secret-scrubber';
import { type KeyCatalog, type KeyInScope } from './secret-key-catalog';
import { type ResolvedValue, SECRET_KEY_PATTERN, type SecretValueSource, keysToResolve } from './secret-values';
import { type TemplateCache } from './template-cache';

export interface RenderInput {
  readonly template: string;
  readonly format: string;
  readonly customerOrganizationId?: string;
  readonly organizationId?: string;
  readonly pins: Readonly<Record<string, number>>;
  readonly deploymentId?: string;
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
  readonly errors: string[];
}

/** Parse-error wording of the seed: `template parsing error: unexpected "}" in operand`. */
function parseFailure(error: TemplateParseError): RenderError {
  if (error.code === TemplateErrorCode.SourceTooLarge) {
    return new RenderError(RenderErrorCode.TEMPLATE_TOO_LARGE, `template parsing error: ${error.message}`);
  }
  return new RenderError(RenderErrorCode.TEMPLATE_PARSE_ERROR, `template parsing error: ${error.message}`, {
    line: error.line,
    column: error.column,
  });
}

/** Every value Go would print into an execution error is shown as the mask: it comes from the data. */
const maskValue = (): string => MASK;

/** The data a template executes with: a map that records which keys the execution read. */
function trackedSecrets(values: Record<string, string>, used: Set<string>): Record<string, string> {
  const target = Object.assign(Object.create(null) as Record<string, string>, values);
  return new Proxy(target, {
    get(map, key) {
      if (typeof key === 'string' && Object.hasOwn(map, key)) used.add(key);
      return map[key as string];
    },
    ownKeys(map) {
      const keys = Reflect.ownKeys(map);
      for (const key of keys) if (typeof key === 'string') used.add(key);
      return keys;
    },
  });
}

/** The most a pinned version can be (the event store's versions are Postgres integers). */
export const MAX_PIN_VERSION = 2 ** 31 - 1;

const byKey = (a: KeyInScope, b: KeyInScope) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0);

/**
 * `render.v1.render` and `render.v1.validate` (ARCHITECTURE.md §3, §7): authorize, parse (cached), pull exactly
 * the referenced values, execute, check the format. No error said to the caller after values were resolved
 * carries one (see callerFailure).
 */
export class TemplateRenderer {
  constructor(
    private readonly cache: TemplateCache,
    private readonly values: SecretValueSource,
    private readonly catalog: KeyCatalog,
    private readonly maxTemplateBytes: number,
  ) {}

  async render(principal: Principal, request: RenderInput): Promise<Rendered> {
    const scope = renderScope(principal, request);
    assertMayRenderValues(principal);
    const format = renderFormatOf(request.format);
    if (request.deploymentId !== undefined) assertIdentifier('deploymentId', request.deploymentId);
    assertPins(request.pins);
    const template = this.parse(request.template);
    const keys = keysToResolve(template.references());
    const resolved =
      keys !== 'all' && keys.length === 0
        ? new Map<string, ResolvedValue>()
        : (await this.values.resolve(scope, keys, request.pins)).values;

    const plain: Record<string, string> = {};
    for (const [key, { value }] of resolved) plain[key] = value;
    const used = new Set<string>();
    let output: string;
    try {
      output = template.execute(
        { Secrets: trackedSecrets(plain, used) },
        { describeValue: maskValue, escapePrinted: printedEscapeFor(format) },
      );
      checkOutput(format, output);
    } catch (error) {
      throw callerFailure(error, plain);
    }
    const references = [...used].map((key) => {
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
    const errors: string[] = [];
    try {
      referenced = this.parse(request.template).references();
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
    const missing = named.filter((key) => !existing.has(key));
    return { valid: errors.length === 0 && missing.length === 0, references, missing, errors };
  }

  private parse(source: string): Template {
    const bytes = Buffer.byteLength(source);
    if (bytes > this.maxTemplateBytes) {
      throw new RenderError(
        RenderErrorCode.TEMPLATE_TOO_LARGE,
        `template is ${bytes} bytes, more than the limit of ${this.maxTemplateBytes}`,
        { sizeBytes: bytes, limitBytes: this.maxTemplateBytes },
      );
    }
    try {
      return this.cache.parse(source);
    } catch (error) {
      throw error instanceof TemplateParseError ? parseFailure(error) : error;
    }
  }
}

function assertPins(pins: Readonly<Record<string, number>>): void {
  for (const [key, version] of Object.entries(pins)) {
    if (!SECRET_KEY_PATTERN.test(key)) {
      throw new RenderError(RenderErrorCode.INVALID_ARGUMENT, 'pins names a key that is not a valid secret key', {
        field: 'pins',
      });
    }
    if (!Number.isInteger(version) || version < 1) {
      throw new RenderError(RenderErrorCode.INVALID_ARGUMENT, `pins.${key} must be a version of at least 1`, {
        field: `pins.${key}`,
      });
    }
    if (version > MAX_PIN_VERSION) {
      throw new RenderError(
        RenderErrorCode.INVALID_ARGUMENT,
        `pins.${key} must be a version of at most ${MAX_PIN_VERSION}`,
        { field: `pins.${key}` },
      );
    }
  }
}

/**
 * An execution or output failure as the caller sees it. No value can be in either, by construction, so their
 * text is passed on unaltered (a text scrub would also mask a short value inside Go's fixed wording):
 * the engine showed every value it formats into a message as the mask (describeValue), and the output
 * checks say only a line number and fixed text.
 */
function callerFailure(error: unknown, values: Readonly<Record<string, string>>): unknown {
  if (error instanceof TemplateExecutionError) {
    return new RenderError(RenderErrorCode.TEMPLATE_EXECUTION_ERROR, `template execution error: ${error.message}`, {
      line: error.line,
      column: error.column,
    });
  }
  if (error instanceof RenderError) return error;
  // Anything else is a bug: INTERNAL on the wire, and its text reaches the log only scrubbed of the values.
  const scrubber = new SecretScrubber(Object.values(values));
  const internal = new Error(
    `rendering failed: ${scrubber.scrub(error instanceof Error ? error.message : String(error))}`,
  );
  internal.stack = error instanceof Error && error.stack ? scrubber.scrub(error.stack) : internal.stack;
  return internal;
}
