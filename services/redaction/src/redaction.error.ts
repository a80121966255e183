import { CodedError } from '@platform/contracts';
import { codedErrorMapper } from '@platform/messaging';

export enum RedactionServiceErrorCode {
  /** A scope's matcher could not be built (the secrets service is down or refused); the caller may retry. */
  MATCHER_UNAVAILABLE = 'MATCHER_UNAVAILABLE',
  /** A request's text is longer than REDACTION_MAX_TEXT_BYTES, or a log message larger than 1 MiB. */
  TOO_LARGE = 'TOO_LARGE',
  /** The calling organization already has as many redact requests running and queued as it may. */
  OVERLOADED = 'OVERLOADED',
}

/** Every failure of the redaction service; messages name scopes and limits, never log contents or values. */
export class RedactionServiceError extends CodedError<RedactionServiceErrorCode> {
  constructor(
    code: RedactionServiceErrorCode,
    message: string,
    /** MATCHER_UNAVAILABLE: how long until the scope's matcher is tried again. */
    readonly retryAfterMs = 0,
  ) {
    super(code, message);
  }
}

/** The wire form of a redaction error (ARCHITECTURE.md §2). */
export const redactionErrorMapper = codedErrorMapper(RedactionServiceError, {
  [RedactionServiceErrorCode.MATCHER_UNAVAILABLE]: {
    code: 'UNAVAILABLE',
    message: 'the secrets of this scope cannot be loaded right now; retry later',
  },
  [RedactionServiceErrorCode.TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
  [RedactionServiceErrorCode.OVERLOADED]: 'RESOURCE_EXHAUSTED',
});
