import { CodedError } from '@platform/contracts';
import { type ErrorMapper, type WireError } from '@platform/messaging';

export enum RenderErrorCode {
  INVALID_ARGUMENT = 'INVALID_ARGUMENT',
  PERMISSION_DENIED = 'PERMISSION_DENIED',
  /** A template over the configured size limit. */
  TEMPLATE_TOO_LARGE = 'TEMPLATE_TOO_LARGE',
  TEMPLATE_PARSE_ERROR = 'TEMPLATE_PARSE_ERROR',
  TEMPLATE_EXECUTION_ERROR = 'TEMPLATE_EXECUTION_ERROR',
  /** The rendered text is not valid for its format (env, yaml). */
  TEMPLATE_OUTPUT_ERROR = 'TEMPLATE_OUTPUT_ERROR',
  /** The secrets service did not answer in time or is not running; safe to retry. */
  SECRETS_UNAVAILABLE = 'SECRETS_UNAVAILABLE',
  /** The secrets service answered with something render cannot use (a bug or a misconfiguration, not the caller's). */
  SECRETS_FAILED = 'SECRETS_FAILED',
  /** The organization has too many templates waiting for a worker; retry later. */
  RESOURCE_EXHAUSTED = 'RESOURCE_EXHAUSTED',
  /** A value the template needs is past its expiresAt and the request did not allow expired values. */
  SECRET_EXPIRED = 'SECRET_EXPIRED',
  /** The secrets service cannot give a value the request asks for (a pinned version was destroyed): its message. */
  SECRETS_PRECONDITION = 'SECRETS_PRECONDITION',
}

/**
 * Every refusal of the render module. Messages and details are scrubbed of secret values before they are
 * built into this error (see SecretScrubber); they travel on the wire as they are.
 */
export class RenderError extends CodedError<RenderErrorCode> {}

export function wireCodeOf(code: RenderErrorCode): WireError['code'] {
  switch (code) {
    case RenderErrorCode.INVALID_ARGUMENT:
      return 'INVALID_ARGUMENT';
    case RenderErrorCode.PERMISSION_DENIED:
      return 'PERMISSION_DENIED';
    case RenderErrorCode.TEMPLATE_TOO_LARGE:
      return 'PAYLOAD_TOO_LARGE';
    case RenderErrorCode.TEMPLATE_PARSE_ERROR:
      return 'TEMPLATE_PARSE_ERROR';
    case RenderErrorCode.TEMPLATE_EXECUTION_ERROR:
      return 'TEMPLATE_EXECUTION_ERROR';
    case RenderErrorCode.TEMPLATE_OUTPUT_ERROR:
      return 'TEMPLATE_OUTPUT_ERROR';
    case RenderErrorCode.SECRETS_UNAVAILABLE:
      return 'UNAVAILABLE';
    case RenderErrorCode.SECRETS_FAILED:
      return 'INTERNAL';
    case RenderErrorCode.RESOURCE_EXHAUSTED:
      return 'RESOURCE_EXHAUSTED';
    case RenderErrorCode.SECRET_EXPIRED:
    case RenderErrorCode.SECRETS_PRECONDITION:
      return 'FAILED_PRECONDITION';
    default: {
      const _exhaustive: never = code;
      return _exhaustive;
    }
  }
}

/** The edge mapping of RenderError onto the wire envelope. */
export const renderErrorMapper: ErrorMapper = (error) => {
  if (!(error instanceof RenderError)) return undefined;
  const code = wireCodeOf(error.code);
  return error.details ? { code, message: error.message, details: error.details } : { code, message: error.message };
};
