import { ContractError, ERROR_STATUS, type ErrorCode } from '@platform/contracts';

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

/** A request body that broke the wire contract (decoding): its code is already a wire code. */
export const contractErrorMapper: ErrorMapper = (error) =>
  error instanceof ContractError ? { code: error.code, message: error.message, details: error.details } : undefined;

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
