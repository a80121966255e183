import { CodedError } from '@platform/contracts';
import { type ErrorMapper, type WireError } from '@platform/messaging';

export enum AuditErrorCode {
  /** A message on SECRETS_EVENTS that does not fit the event contract; it is skipped, never stored. */
  MALFORMED_EVENT = 'MALFORMED_EVENT',
  INVALID_PAGE_TOKEN = 'INVALID_PAGE_TOKEN',
  INVALID_QUERY = 'INVALID_QUERY',
  /** Postgres did not answer; the caller may retry. */
  STORE_UNAVAILABLE = 'STORE_UNAVAILABLE',
  /** AUDIT_CHECKPOINTS did not answer; the caller may retry. */
  CHECKPOINTS_UNAVAILABLE = 'CHECKPOINTS_UNAVAILABLE',
  /** An ops rebuild that cannot run safely (a running applier, no stream to read); an ops error, never on the wire. */
  REBUILD_REFUSED = 'REBUILD_REFUSED',
  /** An ops acknowledgement naming a gap the applier never recorded; an ops error, never on the wire. */
  GAP_NOT_FOUND = 'GAP_NOT_FOUND',
}

/** Every failure of the audit service; messages name fields and sequences, never event contents. */
export class AuditError extends CodedError<AuditErrorCode> {}

function withDetails(code: WireError['code'], error: AuditError): WireError {
  return error.details ? { code, message: error.message, details: error.details } : { code, message: error.message };
}

/** The wire form of an audit error (ARCHITECTURE.md §2). */
export const auditErrorMapper: ErrorMapper = (error) => {
  if (!(error instanceof AuditError)) return undefined;
  switch (error.code) {
    case AuditErrorCode.INVALID_PAGE_TOKEN:
    case AuditErrorCode.INVALID_QUERY:
      return withDetails('INVALID_ARGUMENT', error);
    case AuditErrorCode.STORE_UNAVAILABLE:
      return { code: 'UNAVAILABLE', message: 'the audit store is unavailable; retry later' };
    case AuditErrorCode.CHECKPOINTS_UNAVAILABLE:
      return { code: 'UNAVAILABLE', message: error.message };
    case AuditErrorCode.MALFORMED_EVENT:
    case AuditErrorCode.REBUILD_REFUSED:
    case AuditErrorCode.GAP_NOT_FOUND:
      return { code: 'INTERNAL', message: 'internal error' };
    default: {
      const _exhaustive: never = error.code;
      return _exhaustive;
    }
  }
};
