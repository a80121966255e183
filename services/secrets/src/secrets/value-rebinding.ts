import { CryptoError, CryptoErrorCode, type DataKeyRing, type ValueSealer } from '@platform/crypto';
import { type PostgresEventStore } from '@platform/event-store';
import { holdLiveDataKey } from '../keys/data-key.repository';
import { organizationOfStream, parseSecretStreamId } from './secret-stream';
import { type UnboundRow, ValueRebindingRepository, rebindValue } from './value-rebinding.repository';

/** Value events re-sealed per transaction. */
const REBIND_BATCH = 200;

export interface RebindReport {
  /** Values re-sealed bound to their event (with a digest added) under their scope's data key. */
  readonly rebound: number;
  /** Values left as they were because their organization was purged (their data key is gone). */
  readonly unrecoverable: number;
}

/**
 * Migrates values written before ciphertexts were bound, and customers' values written before customers had data keys
 * of their own (ARCHITECTURE.md §6): each such value event is decrypted at its own place (stream and data key
 * organization checked), sealed again under its scope's active data key bound to its version and event id, and its event data (value, dataKeyId, digest) and projection row are
 * updated in place, in one transaction per batch. Events are otherwise immutable (but for destroy's erasure of a
 * value); this rewrite changes no plaintext. Safe beside running services and to run twice (a value bound and under
 * its scope's own key is never touched).
 */
export async function rebindUnboundValues(
  store: PostgresEventStore,
  keyRing: DataKeyRing,
  onProgress?: (done: number, total: number) => void,
): Promise<RebindReport> {
  const values = new ValueRebindingRepository(store);
  const total = await values.countToReseal();
  onProgress?.(0, total);
  let rebound = 0;
  let unrecoverable = 0;
  let after = '0';
  for (;;) {
    const rows = await values.toResealAfter(after, REBIND_BATCH);
    if (rows.length === 0) return { rebound, unrecoverable };
    after = rows[rows.length - 1].position;
    const sealers = new Map<string, ValueSealer>();
    const resealed: { row: UnboundRow; organizationId: string; sealed: ReturnType<ValueSealer['seal']> }[] = [];
    for (const row of rows) {
      const organizationId = organizationOfStream(row.stream_id) ?? '';
      const customerOrganizationId = parseSecretStreamId(row.stream_id)?.scope.customerOrganizationId ?? null;
      const place = {
        organizationId,
        customerOrganizationId,
        streamId: row.stream_id,
        version: row.stream_version,
        eventId: row.event_id,
      };
      let plaintext: string;
      try {
        plaintext = await keyRing.decryptValue(row.value, place, { acceptUnbound: true });
      } catch (error) {
        if (error instanceof CryptoError && error.code === CryptoErrorCode.DATA_KEY_NOT_FOUND) {
          unrecoverable++;
          continue;
        }
        throw error;
      }
      const scope = `${organizationId}/${customerOrganizationId ?? ''}`;
      const sealer = sealers.get(scope) ?? (await keyRing.sealerFor(organizationId, customerOrganizationId));
      sealers.set(scope, sealer);
      resealed.push({ row, organizationId, sealed: sealer.seal(place, plaintext) });
    }
    rebound += await store.withTransaction(async (tx) => {
      let done = 0;
      for (const { row, organizationId, sealed } of resealed) {
        if (!(await holdLiveDataKey(tx, organizationId, sealed.dataKeyId))) {
          unrecoverable++;
          continue;
        }
        if (!(await rebindValue(tx, row, sealed))) continue;
        done++;
      }
      return done;
    });
    onProgress?.(Math.min(rebound + unrecoverable, total), total);
  }
}
