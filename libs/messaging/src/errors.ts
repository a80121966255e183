/** The wire error codes of ARCHITECTURE.md §2. */
export type ErrorCode =
  | 'INVALID_ARGUMENT'
  | 'UNAUTHENTICATED'
  | 'PERMISSION_DENIED'
  | 'NOT_FOUND'
  | 'ALREADY_EXISTS'
  | 'VERSION_CONFLICT'
  | 'FAILED_PRECONDITION'
  | 'PAYLOAD_TOO_LARGE'
  | 'TEMPLATE_PARSE_ERROR'
  | 'TEMPLATE_EXECUTION_ERROR'
  | 'TEMPLATE_OUTPUT_ERROR'
  | 'RESOURCE_EXHAUSTED'
  | 'UNAVAILABLE'
  | 'INTERNAL';

export function statusOf(code: ErrorCode): number {
  switch (code) {
    case 'INVALID_ARGUMENT':
      return 400;
    case 'UNAUTHENTICATED':
      return 401;
    case 'PERMISSION_DENIED':
      return 403;
    case 'NOT_FOUND':
      return 404;
    case 'ALREADY_EXISTS':
    case 'VERSION_CONFLICT':
    case 'FAILED_PRECONDITION':
      return 409;
    case 'PAYLOAD_TOO_LARGE':
      return 413;
    case 'TEMPLATE_PARSE_ERROR':
    case 'TEMPLATE_EXECUTION_ERROR':
    case 'TEMPLATE_OUTPUT_ERROR':
      return 422;
    case 'RESOURCE_EXHAUSTED':
      return 429;
    case 'UNAVAILABLE':
      return 503;
    case 'INTERNAL':
      return 500;
    default: {
      const _exhaustive: never = code;
      return _exhaustive;
    }
  }
}

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/**
 * An error meant for the caller. Its message and details travel on the wire as they are,
 * so they must never carry a secret value or internals.
 */
export class PlatformError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: Readonly<Record<string, unknown>>,
  ) {
    super(message);
    this.name = 'PlatformError';
  }

  toWire(): WireError {
    return this.details
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

/** Turns a module's typed error into a wire error, or returns undefined when the error is not its own. */
export type ErrorMapper = (error: unknown) => WireError | undefined;

export const INTERNAL_ERROR: WireError = { code: 'INTERNAL', message: 'internal error' };

/** The one edge where errors become wire errors: platform errors as they are, mapped module errors, else INTERNAL. */
export function toWireError(error: unknown, mappers: readonly ErrorMapper[]): WireError {
  if (error instanceof PlatformError) return error.toWire();
  for (const mapper of mappers) {
    const mapped = mapper(error);
    if (mapped) return mapped;
  }
  return INTERNAL_ERROR;
}

export function isWireError(value: unknown): value is WireError {
  return (
    typeof value === 'object' &&
    value !== null &&
    typeof (value as WireError).code === 'string' &&
    typeof (value as WireError).message === 'string'
  );
}
