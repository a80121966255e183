import { EventStoreError, EventStoreErrorCode } from './event-store.error';

// Connection failures (SQLSTATE class 08), shutdowns (57P0x), too many connections (53300), socket errors.
const UNAVAILABLE_SQLSTATES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);

export const UNIQUE_VIOLATION = '23505';

export function sqlState(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

export function constraintOf(error: unknown): string | undefined {
  const constraint = (error as { constraint?: unknown } | null)?.constraint;
  return typeof constraint === 'string' ? constraint : undefined;
}

/** True when the failure says "the database cannot be reached", not "the statement is wrong". */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof EventStoreError) return error.code === EventStoreErrorCode.UNAVAILABLE;
  const code = sqlState(error);
  if (code && (code.startsWith('08') || UNAVAILABLE_SQLSTATES.has(code) || UNAVAILABLE_SOCKET_CODES.has(code))) {
    return true;
  }
  const name = (error as { name?: unknown } | null)?.name;
  const message = error instanceof Error ? error.message : '';
  return (
    name === 'KnexTimeoutError' ||
    /Connection terminated|Client has encountered a connection error|connection is closed|^timeout expired$/i.test(
      message,
    ) ||
    isSilentConnection(error)
  );
}

/** pg's client-side `query_timeout` fired: the connection stopped answering, so it cannot be used again. */
export function isSilentConnection(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}

/** Turns connection failures into `UNAVAILABLE`; every other error passes through untouched. */
export function asStoreError(error: unknown): unknown {
  if (error instanceof EventStoreError || !isUnavailable(error)) return error;
  return new EventStoreError(EventStoreErrorCode.UNAVAILABLE, 'The event store database is unavailable', {
    cause: error,
  });
}
