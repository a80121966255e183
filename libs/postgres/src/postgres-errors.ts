/**
 * "Is this error Postgres being down?" — one answer for every store, so they cannot disagree about what a caller may
 * retry: connection failures (SQLSTATE class 08), insufficient resources such as too many connections (class 53),
 * shutdowns (57P0x), socket errors, and the driver's own timeouts on a connection that stopped answering.
 */
const UNAVAILABLE_SQLSTATE = /^(08|53|57P0)/;
const UNAVAILABLE_SOCKET_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENOTFOUND',
  'EPIPE',
]);
/** pg's and pg-pool's words for a connection that ended or never came, and knex's pool timeout (migrations). */
const UNAVAILABLE_MESSAGE =
  /Connection terminated|Client has encountered a connection error|connection is closed|^timeout expired$|^timeout exceeded when trying to connect$/i;

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
  const code = sqlState(error);
  if (code !== undefined && (UNAVAILABLE_SQLSTATE.test(code) || UNAVAILABLE_SOCKET_CODES.has(code))) return true;
  const name = (error as { name?: unknown } | null)?.name;
  const message = error instanceof Error ? error.message : '';
  return name === 'KnexTimeoutError' || UNAVAILABLE_MESSAGE.test(message) || isSilentConnection(error);
}

/** pg's client-side `query_timeout` fired: the connection stopped answering, so it cannot be used again. */
export function isSilentConnection(error: unknown): boolean {
  return error instanceof Error && error.message === 'Query read timeout';
}
