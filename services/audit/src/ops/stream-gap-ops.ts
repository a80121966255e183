import { type Environment, databaseSettings, loadServiceConfig } from '@platform/config';
import { AuditError, AuditErrorCode } from '../audit.error';
import { migrateAuditDatabase } from '../database/audit-migrations';
import { AuditStore, type StreamGap } from '../records/audit-store.repository';

/** Who acknowledged: 1 to 128 visible characters, as ops give it (a name, a ticket). */
const ACKNOWLEDGER = /^[\x21-\x7e][\x20-\x7e]{0,127}$/;

function sequenceOf(text: string | undefined, what: string): number {
  const value = Number(text);
  if (text === undefined || !/^\d{1,16}$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new AuditError(AuditErrorCode.INVALID_QUERY, `${what} must be a stream sequence (a positive integer)`, {
      field: what,
    });
  }
  return value;
}

async function withStore<T>(env: Environment, work: (store: AuditStore) => Promise<T>): Promise<T> {
  const { databaseUrl } = loadServiceConfig('audit', databaseSettings, env);
  await migrateAuditDatabase(databaseUrl);
  const store = AuditStore.open(databaseUrl, { poolSize: 1 });
  try {
    return await work(store);
  } finally {
    await store.close();
  }
}

/** The gaps of deleted SECRETS_EVENTS sequences the applier is stopped at. */
export function openStreamGaps(env: Environment): Promise<StreamGap[]> {
  return withStore(env, (store) => store.openStreamGaps());
}

/**
 * Ops accept that SECRETS_EVENTS sequences `from..to` are gone for good (after finding out who deleted them and
 * why): the applier moves past them, and the acknowledgement stays in `audit.stream_gaps` with who gave it.
 */
export async function acknowledgeStreamGap(
  env: Environment,
  fromText: string | undefined,
  toText: string | undefined,
  by: string | undefined,
): Promise<StreamGap> {
  const from = sequenceOf(fromText, 'from');
  const to = sequenceOf(toText, 'to');
  if (to < from) {
    throw new AuditError(AuditErrorCode.INVALID_QUERY, 'to must not be before from', { field: 'to' });
  }
  if (by === undefined || !ACKNOWLEDGER.test(by)) {
    throw new AuditError(AuditErrorCode.INVALID_QUERY, 'say who acknowledges (1 to 128 printable characters)', {
      field: 'by',
    });
  }
  return withStore(env, (store) => store.acknowledgeStreamGap(from, to, by));
}

export function describeGap(gap: StreamGap): string {
  const range = gap.fromSequence === gap.toSequence ? `${gap.fromSequence}` : `${gap.fromSequence}-${gap.toSequence}`;
  return gap.acknowledgedAt
    ? `SECRETS_EVENTS ${range}: acknowledged by ${gap.acknowledgedBy ?? '?'} at ${gap.acknowledgedAt.toISOString()}`
    : `SECRETS_EVENTS ${range}: deleted from the stream, found ${gap.detectedAt.toISOString()}; the audit applier is stopped`;
}
