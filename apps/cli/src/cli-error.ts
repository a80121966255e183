/** Exit codes scripts can rely on (apps/cli/README.md: the exit codes table). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  NOT_FOUND: 3,
  DENIED: 4,
  REFUSED: 5,
  UNAVAILABLE: 6,
  MISSING_REQUIRED: 7,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** A service's refusal as the wire carried it: its code, and the details for programs (never a secret value). */
export interface WireRefusal {
  readonly code: string;
  readonly details?: Readonly<Record<string, unknown>>;
}

/** A failure the CLI explains in one line and turns into an exit code; never a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.FAILURE,
    /** Set when a service refused the request. */
    readonly wire?: WireRefusal,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export function usage(message: string): CliError {
  return new CliError(message, EXIT.USAGE);
}

/** How a wire error code from a service maps to an exit code. */
export function exitCodeForWireCode(code: string): ExitCode {
  switch (code) {
    case 'NOT_FOUND':
      return EXIT.NOT_FOUND;
    case 'UNAUTHENTICATED':
    case 'PERMISSION_DENIED':
      return EXIT.DENIED;
    case 'UNAVAILABLE':
    case 'RESOURCE_EXHAUSTED':
      return EXIT.UNAVAILABLE;
    case 'INTERNAL':
      return EXIT.FAILURE;
    // E.g. a delete of a key live deployments use, without --force.
    case 'FAILED_PRECONDITION':
      return EXIT.REFUSED;
    default:
      return EXIT.REFUSED;
  }
}

/** A hint that turns a terse wire error into something a person can act on, never repeating what it says. */
export function explainWireError(code: string, message: string): string {
  if (code === 'UNAUTHENTICATED' && /expired/i.test(message)) {
    return `${message}; get a new one (SECRETS_TOKEN or --token)`;
  }
  if (code === 'UNAUTHENTICATED') return `${message} — check SECRETS_TOKEN or --token`;
  // Only where the service did not already say what a key looks like.
  if (code === 'INVALID_ARGUMENT' && /\bkey\b/i.test(message) && !/letter/i.test(message)) {
    return `${message} — keys start with a letter and contain only letters, digits and underscores (e.g. API_KEY)`;
  }
  return message;
}
