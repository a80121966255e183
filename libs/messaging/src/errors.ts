import { type CodedError, ContractError, ERROR_STATUS, type ErrorCode } from '@platform/contracts';

export type { ErrorCode } from '@platform/contracts';

/** The HTTP-like status of a wire error code (ARCHITECTURE.md §2), from the one table in libs/contracts. */
export function statusOf(code: ErrorCode): number {
  return ERROR_STATUS[code];
}

export interface WireError {
  readonly code: ErrorCode;
  readonly message: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A wire error with `details` only when there are some. */
function wireError(code: ErrorCode, message: string, details?: Readonly<Record<string, unknown>>): WireError {
  return details ? { code, message, details } : { code, message };
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
    return wireError(this.code, this.message, this.details);
  }
}

/** Turns a module's typed error into a wire error, or returns undefined when the error is not its own. */
export type ErrorMapper = (error: unknown) => WireError | undefined;

/** A request body that broke the wire contract (decoding): its code is already a wire code. */
export const contractErrorMapper: ErrorMapper = (error) =>
  error instanceof ContractError ? { code: error.code, message: error.message, details: error.details } : undefined;

export const INTERNAL_ERROR: WireError = { code: 'INTERNAL', message: 'internal error' };

/**
 * Where each code of a module's error goes on the wire: a wire code (the error's message and details travel as they
 * are), or a whole wire error that replaces them (a fixed message, `INTERNAL_ERROR`). Keyed by every code of the
 * module's enum, so a code added without a mapping does not compile.
 */
export type WireMapping<Code extends string> = { readonly [C in Code]: ErrorCode | WireError };

/** The error edge's mapper for one module's coded error class, by its `WireMapping`. */
export function codedErrorMapper<Code extends string>(
  errorClass: abstract new (...args: never[]) => CodedError<Code>,
  mapping: WireMapping<Code>,
): ErrorMapper {
  return (error) => {
    if (!(error instanceof errorClass)) return undefined;
    const wire = mapping[error.code];
    return typeof wire === 'string' ? wireError(wire, error.message, error.details) : wire;
  };
}

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
