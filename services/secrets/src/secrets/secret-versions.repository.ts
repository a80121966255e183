import { type PostgresEventStore } from '@platform/event-store';
import { CUSTOMER_PURGED, ORGANIZATION_PURGED, VALUE_EVENT_TYPES } from './secret';

/** A value event as stored: what opening its value needs (never decrypted here). */
export interface StoredVersion {
  readonly type: string;
  readonly eventId: string;
  /** The JWE compact; absent when the event no longer holds a value. */
  readonly value: string | undefined;
  /** `data.digest`; null for events of the releases before values were bound. */
  readonly digest: string | null;
}

/** One event of a secret's stream, or of a stream it is folded with (its purges, its destructions). */
export interface SecretStreamRow {
  readonly stream_id: string;
  readonly stream_version: number;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: unknown;
}

/** The streams a secret's state is folded from; `''` names none. */
export interface SecretStreamSources {
  readonly streamId: string;
  /** `organization:<org>`: only its last OrganizationPurged counts. */
  readonly organizationPurges: string;
  /** `customer:<org>:<customer>`: only its last CustomerPurged counts. */
  readonly customerPurges: string;
  /** `destroyed:<org>:<customer|_>:<key>`: every destruction of the secret's values. */
  readonly destructions: string;
}

/** Reads a secret's stream and single versions of it from the events table of this service's schema. */
export class SecretVersionsRepository {
  constructor(private readonly store: PostgresEventStore) {}

  /** The value event at `version` of the stream; undefined when that version is missing or wrote no value. */
  async valueEventAt(streamId: string, version: number): Promise<StoredVersion | undefined> {
    const [row] = await this.store.query<{
      type: string;
      event_id: string;
      value: string | null;
      digest: string | null;
    }>(
      `select type, event_id, data->>'value' as value, data->>'digest' as digest from events
       where stream_id = $1 and stream_version = $2 and type = any($3::text[])`,
      [streamId, version, VALUE_EVENT_TYPES],
      { prepared: true },
    );
    if (!row) return undefined;
    return { type: row.type, eventId: row.event_id, value: row.value ?? undefined, digest: row.digest };
  }

  /** The secret's events with its last purges and its destructions, in position order, in one round trip. */
  readSecretStream(sources: SecretStreamSources): Promise<SecretStreamRow[]> {
    return this.store.query<SecretStreamRow>(
      `select stream_id, stream_version, type, data, metadata from (
         (select position, stream_id, stream_version, type, data, metadata from events where stream_id = $1)
         union all
         (select position, stream_id, stream_version, type, data, metadata from events where stream_id = $2 and type = $3
          order by stream_version desc limit 1)
         union all
         (select position, stream_id, stream_version, type, data, metadata from events where stream_id = $4 and type = $5
          order by stream_version desc limit 1)
         union all
         (select position, stream_id, stream_version, type, data, metadata from events where stream_id = $6)
       ) e order by position`,
      [
        sources.streamId,
        sources.organizationPurges,
        ORGANIZATION_PURGED,
        sources.customerPurges,
        CUSTOMER_PURGED,
        sources.destructions,
      ],
      { prepared: true },
    );
  }
}
