import { createHash, hash as oneShotHash } from 'node:crypto';
import { type AuditRecord, type AuditRecordContent } from './audit-record';
import { isoInstant } from './iso-instant';

/** The `prevHash` of the first record of every organization's chain. */
export const GENESIS_HASH = '0'.repeat(64);

type Canonical = string | number | boolean | null | readonly Canonical[] | { readonly [key: string]: Canonical };

/**
 * RFC 8785 (JCS) serialization for the values a record holds: object keys sorted by UTF-16 code units, no
 * whitespace, strings escaped as `JSON.stringify` does, integers as plain decimals. Any JCS library reproduces it.
 */
export function canonicalJson(value: Canonical): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  if (Array.isArray(value)) return `[${value.map((item: Canonical) => canonicalJson(item)).join(',')}]`;
  const object = value as { readonly [key: string]: Canonical };
  const members = Object.keys(object)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(object[key])}`);
  return `{${members.join(',')}}`;
}

/** Printable ASCII without `"` or `\\`: JSON.stringify would only add the quotes. */
const PLAIN_TEXT = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** The JCS form of a string, number or null; most values are plain identifiers and skip the escaping pass. */
function json(value: string | number | null): string {
  return typeof value === 'string' && PLAIN_TEXT.test(value) ? `"${value}"` : JSON.stringify(value);
}

/**
 * The canonical record: the JCS form of the record's `audit.v1.AuditRecord` JSON without `hash` and `prevHash`
 * (timestamps as RFC 3339 UTC with milliseconds, absent customer or key as null, `resolved` as a list;
 * `requestedBy` and `deploymentId` only when the record has them, so records written before them keep their hash).
 * An outside auditor recomputes a chain from `audit.v1.query` replies alone.
 *
 * Written out with its keys already in JCS order rather than through `canonicalJson`: it runs once per record on
 * the apply path, and the spec checks the two agree.
 */
export function canonicalRecord(record: AuditRecordContent): string {
  let resolved = '';
  for (const { key, version, scope } of record.resolved) {
    resolved += `${resolved === '' ? '' : ','}{"key":${json(key)},"scope":${json(scope)},"version":${json(version)}}`;
  }
  const { actor, requestedBy, deploymentId } = record;
  const deployment = deploymentId === undefined ? '' : `"deploymentId":${json(deploymentId)},`;
  const requester =
    requestedBy === undefined
      ? ''
      : `"requestedBy":{"org":${json(requestedBy.org)},"role":${json(requestedBy.role)},"sub":${json(requestedBy.sub)}},`;
  return (
    `{"actor":{"org":${json(actor.org)},"role":${json(actor.role)},"sub":${json(actor.sub)}},` +
    `"customerOrganizationId":${json(record.customerOrganizationId)},${deployment}"eventId":${json(record.eventId)},` +
    `"key":${json(record.key)},"occurredAt":"${isoInstant(record.occurredAt)}",` +
    `"organizationId":${json(record.organizationId)},"recordedAt":"${isoInstant(record.recordedAt)}",${requester}` +
    `"resolved":[${resolved}],"sequence":${json(record.sequence)},"type":${json(record.type)},` +
    `"version":${json(record.version)}}`
  );
}

/** `hash = sha256(prevHash ‖ canonical record)`, prevHash as its 64 lowercase hex characters, all UTF-8, hex out. */
export function chainHash(prevHash: string, record: AuditRecordContent): string {
  const input = prevHash + canonicalRecord(record);
  // crypto.hash (Node ≥ 20.12) skips the Hash object a record would otherwise allocate; same bytes, same digest.
  return oneShotHash === undefined
    ? createHash('sha256').update(input, 'utf8').digest('hex')
    : oneShotHash('sha256', input, 'hex');
}

/**
 * Links a record onto the chain whose last hash is `prevHash`. Fields are copied one by one: an object spread
 * costs several times as much per record on the apply path.
 */
export function linkRecord(prevHash: string, content: AuditRecordContent): AuditRecord {
  const record: AuditRecord = {
    sequence: content.sequence,
    eventId: content.eventId,
    type: content.type,
    organizationId: content.organizationId,
    customerOrganizationId: content.customerOrganizationId,
    key: content.key,
    version: content.version,
    actor: content.actor,
    occurredAt: content.occurredAt,
    recordedAt: content.recordedAt,
    resolved: content.resolved,
    prevHash,
    hash: chainHash(prevHash, content),
  };
  // Only when present (attributed resolves): an absent field is not a member of the canonical record.
  if (content.requestedBy === undefined && content.deploymentId === undefined) return record;
  return {
    ...record,
    ...(content.requestedBy === undefined ? {} : { requestedBy: content.requestedBy }),
    ...(content.deploymentId === undefined ? {} : { deploymentId: content.deploymentId }),
  };
}

/** Walks one organization's records in sequence order and remembers the first that does not link. */
export class ChainVerifier {
  private expectedPrevHash: string;
  private checkedCount = 0;
  private broken: number | undefined;

  /** @param startHash the hash the first record checked must link to: genesis, or a signed checkpoint's */
  constructor(startHash: string = GENESIS_HASH) {
    this.expectedPrevHash = startHash;
  }

  check(record: AuditRecord): void {
    this.checkedCount += 1;
    if (this.broken !== undefined) return;
    if (record.prevHash !== this.expectedPrevHash || record.hash !== chainHash(record.prevHash, record)) {
      this.broken = record.sequence;
    }
    this.expectedPrevHash = record.hash;
  }

  /** The chain head kept beside the records catches a record removed from the end. */
  checkHead(head: { readonly lastSequence: number; readonly lastHash: string } | undefined): void {
    if (this.broken !== undefined) return;
    const lastHash = head?.lastHash ?? GENESIS_HASH;
    if (lastHash !== this.expectedPrevHash) this.broken = head?.lastSequence ?? 0;
  }

  /** The hash the next record must name as its prevHash. */
  get lastHash(): string {
    return this.expectedPrevHash;
  }

  get checked(): number {
    return this.checkedCount;
  }

  get firstBrokenSequence(): number | undefined {
    return this.broken;
  }
}
