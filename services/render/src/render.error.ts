import { CodedError } from '@platform/contracts';
import { codedErrorMapper } from '@platform/messaging';

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

/** The edge mapping of RenderError onto the wire envelope. */
export const renderErrorMapper = codedErrorMapper(RenderError, {
  [RenderErrorCode.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [RenderErrorCode.PERMISSION_DENIED]: 'PERMISSION_DENIED',
  [RenderErrorCode.TEMPLATE_TOO_LARGE]: 'PAYLOAD_TOO_LARGE',
  [RenderErrorCode.TEMPLATE_PARSE_ERROR]: 'TEMPLATE_PARSE_ERROR',
  [RenderErrorCode.TEMPLATE_EXECUTION_ERROR]: 'TEMPLATE_EXECUTION_ERROR',
  [RenderErrorCode.TEMPLATE_OUTPUT_ERROR]: 'TEMPLATE_OUTPUT_ERROR',
  [RenderErrorCode.SECRETS_UNAVAILABLE]: 'UNAVAILABLE',
  [RenderErrorCode.SECRETS_FAILED]: 'INTERNAL',
  [RenderErrorCode.RESOURCE_EXHAUSTED]: 'RESOURCE_EXHAUSTED',
  [RenderErrorCode.SECRET_EXPIRED]: 'FAILED_PRECONDITION',
  [RenderErrorCode.SECRETS_PRECONDITION]: 'FAILED_PRECONDITION',
});
