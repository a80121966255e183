import { CodedError } from '@platform/contracts';
import { type ErrorMapper, type WireError } from '@platform/messaging';

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
export const redactionErrorMapper: ErrorMapper = (error): WireError | undefined => {
  if (!(error instanceof RedactionServiceError)) return undefined;
  switch (error.code) {
    case RedactionServiceErrorCode.MATCHER_UNAVAILABLE:
      return { code: 'UNAVAILABLE', message: 'the secrets of this scope cannot be loaded right now; retry later' };
    case RedactionServiceErrorCode.TOO_LARGE:
      return { code: 'PAYLOAD_TOO_LARGE', message: error.message };
    case RedactionServiceErrorCode.OVERLOADED:
      return { code: 'RESOURCE_EXHAUSTED', message: error.message };
    default: {
      const _exhaustive: never = error.code;
      return _exhaustive;
    }
  }
};
