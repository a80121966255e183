export enum RedactionErrorCode {
  /** `minLength` is not a positive integer. */
  INVALID_MIN_LENGTH = 'INVALID_MIN_LENGTH',
  /** A value handed to `buildMatcher` is not a string. */
  INVALID_VALUE = 'INVALID_VALUE',
  /** The values expand to more patterns or pattern bytes than one matcher can index. */
  CAPACITY_EXCEEDED = 'CAPACITY_EXCEEDED',
}

/** Why a matcher could not be built; the message names the rule, never a secret value. */
export class RedactionError extends Error {
  constructor(
    readonly code: RedactionErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'RedactionError';
  }
}
