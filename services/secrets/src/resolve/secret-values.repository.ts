import { VALUE_EVENT_TYPES } from '@platform/contracts';
import { type PostgresEventStore } from '@platform/event-store';

/** A sealed value as stored, with the place it is bound to; never decrypted here. */
export interface ValueRow {
  readonly stream_id: string;
  readonly customer_id: string;
  readonly key: string;
  readonly version: number;
  readonly value: string;
  /** Of the event that wrote the value: the ciphertext is bound to it and must match its digest (null before). */
  readonly event_id: string;
  readonly digest: string | null;
  /** Of the event that wrote the value, to wait for its publication. */
  readonly transaction_id: string;
  readonly position: string;
  /** When the value expires (ISO, from its event); null when it never does. */
  readonly expires_at: string | null;
}

/** A pinned version's value: the event that wrote it, whose data key still exists. */
export type PinnedValueRow = Pick<
  ValueRow,
  'stream_id' | 'event_id' | 'digest' | 'transaction_id' | 'position' | 'expires_at'
> & {
  readonly stream_version: number;
  /** Null once the version was destroyed: its event stays, its value is gone. */
  readonly value: string | null;
};

/**
 * The sealed values a resolve reads (ARCHITECTURE.md §6): `secret_view` for what is live, the value events for
 * their ciphertext and place, `data_key` for which of them can still be opened.
 */
export class SecretValuesRepository {
  constructor(private readonly store: PostgresEventStore) {}

  /** The live value of each key of these partitions (every key when `keys` is undefined). */
  current(organizationId: string, customerIds: readonly string[], keys: readonly string[] | undefined) {
    return this.store.query<ValueRow>(
      `select v.stream_id, v.customer_id, v.key, v.version, v.value, e.event_id, e.data->>'digest' as digest,
              e.transaction_id, e.position, e.data->>'expiresAt' as expires_at
       from secret_view v join events e on e.stream_id = v.stream_id and e.stream_version = v.version
       where v.organization_id = $1 and v.customer_id = any($2::text[]) and not v.deleted
         ${keys ? 'and v.key = any($3::text[])' : ''}`,
      keys ? [organizationId, customerIds, keys] : [organizationId, customerIds],
      { prepared: true },
    );
  }

  /** The value each stream held at its version, where that version wrote one whose data key still exists. */
  pinned(versions: readonly { readonly streamId: string; readonly version: number | undefined }[]) {
    return this.store.query<PinnedValueRow>(
      `select e.stream_id, e.stream_version, e.data->>'value' as value, e.event_id, e.data->>'digest' as digest,
              e.transaction_id, e.position, e.data->>'expiresAt' as expires_at
       from events e join data_key d on d.id = (e.data->>'dataKeyId')::uuid
       where (e.stream_id, e.stream_version) in (select * from unnest($1::text[], $2::int[]))
         and e.type = any($3::text[])`,
      [versions.map((pin) => pin.streamId), versions.map((pin) => pin.version), VALUE_EVENT_TYPES],
      { prepared: true },
    );
  }

  /** Every value the keys of these partitions ever held that was not destroyed and whose data key still exists. */
  everyValue(organizationId: string, customerIds: readonly string[]) {
    return this.store.query<ValueRow>(
      `select e.stream_id, v.customer_id, v.key, e.stream_version as version, e.data->>'value' as value,
              e.event_id, e.data->>'digest' as digest, e.transaction_id, e.position, e.data->>'expiresAt' as expires_at
       from secret_view v
         join events e on e.stream_id = v.stream_id
         join data_key d on d.id = (e.data->>'dataKeyId')::uuid
       where v.organization_id = $1 and v.customer_id = any($2::text[]) and e.type = any($3::text[])
         and e.data ? 'value'
       order by v.customer_id, v.key, e.stream_version`,
      [organizationId, customerIds, VALUE_EVENT_TYPES],
      { prepared: true },
    );
  }
}
