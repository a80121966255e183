import { Injectable } from '@nestjs/common';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { type QueryAuditRequest } from '@platform/contracts';
import { IDENTIFIER_PATTERN, type Principal, isSubject } from '@platform/messaging';
import { AuditError, AuditErrorCode } from '../audit.error';
import { type AuditRecordJson, auditRecordJson } from '../records/audit-record';
import { AuditCheckpoints } from '../checkpoints/audit-checkpoints';
import { type ChainVerification, type CheckpointState } from '../checkpoints/chain-audit';
import { AuditStore } from '../records/audit-store.repository';
import { auditViewOf, chainOwnerOf } from './audit-access';
import { decodePageToken, encodePageToken } from './page-token';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1_000;

const EVENT_TYPE = /^[A-Z][A-Za-z0-9]{0,63}$/;
const KEY = /^[A-Za-z][A-Za-z0-9_]{0,255}$/;

export interface AuditPage {
  readonly records: readonly AuditRecordJson[];
  readonly nextPageToken?: string;
}

function invalid(field: string, message: string): AuditError {
  return new AuditError(AuditErrorCode.INVALID_QUERY, message, { field });
}

/** The audit trail as callers see it: tenancy, filters and pagination over the store. */
@Injectable()
export class AuditTrail {
  constructor(
    private readonly store: AuditStore,
    private readonly checkpoints: AuditCheckpoints,
  ) {}

  /** Newest first; `nextPageToken` continues with older records and is absent on the last page. */
  async query(principal: Principal, request: QueryAuditRequest): Promise<AuditPage> {
    const view = auditViewOf(principal, request.customerOrganizationId);
    if (request.key !== undefined && !KEY.test(request.key)) throw invalid('key', `key must match ${KEY.source}`);
    if (request.actor !== undefined && !isSubject(request.actor)) {
      throw invalid('actor', 'actor must be a subject of 1 to 256 characters without control characters');
    }
    if (request.deploymentId !== undefined && !IDENTIFIER_PATTERN.test(request.deploymentId)) {
      throw invalid('deploymentId', `deploymentId must match ${IDENTIFIER_PATTERN.source}`);
    }
    const badType = request.types.find((type) => !EVENT_TYPE.test(type));
    if (badType !== undefined) throw invalid('types', `every type must match ${EVENT_TYPE.source}`);
    const from = request.from && timestampDate(request.from);
    const to = request.to && timestampDate(request.to);
    if (from && to && from.getTime() >= to.getTime()) throw invalid('from', 'from must be before to');
    const pageSize = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const records = await this.store.query({
      ...view,
      key: request.key,
      actorSub: request.actor,
      deploymentId: request.deploymentId,
      types: request.types,
      from,
      to,
      beforeSequence: request.pageToken === undefined ? undefined : decodePageToken(request.pageToken),
      limit: pageSize + 1,
    });
    const page = records.slice(0, pageSize).map(auditRecordJson);
    return records.length > pageSize
      ? { records: page, nextPageToken: encodePageToken(page[page.length - 1].sequence) }
      : { records: page };
  }

  /** The organization's chain, judged against its latest signed checkpoint (read first: records only grow after it). */
  async verify(principal: Principal): Promise<ChainVerification> {
    const organizationId = chainOwnerOf(principal);
    let checkpoint: CheckpointState;
    try {
      checkpoint = await this.checkpoints.latest(organizationId);
    } catch {
      throw new AuditError(AuditErrorCode.CHECKPOINTS_UNAVAILABLE, 'the audit checkpoints cannot be read; retry later');
    }
    return this.store.verifyChain(organizationId, checkpoint);
  }
}
