import { CodedError } from '@platform/contracts';
import { INTERNAL_ERROR, codedErrorMapper } from '@platform/messaging';

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

/** The wire form of an audit error (ARCHITECTURE.md §2). */
export const auditErrorMapper = codedErrorMapper(AuditError, {
  [AuditErrorCode.INVALID_PAGE_TOKEN]: 'INVALID_ARGUMENT',
  [AuditErrorCode.INVALID_QUERY]: 'INVALID_ARGUMENT',
  [AuditErrorCode.STORE_UNAVAILABLE]: { code: 'UNAVAILABLE', message: 'the audit store is unavailable; retry later' },
  [AuditErrorCode.CHECKPOINTS_UNAVAILABLE]: 'UNAVAILABLE',
  [AuditErrorCode.MALFORMED_EVENT]: INTERNAL_ERROR,
  [AuditErrorCode.REBUILD_REFUSED]: INTERNAL_ERROR,
  [AuditErrorCode.GAP_NOT_FOUND]: INTERNAL_ERROR,
});
