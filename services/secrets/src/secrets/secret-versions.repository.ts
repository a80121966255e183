import { type PostgresEventStore } from '@platform/event-store';
import { VALUE_EVENT_TYPES } from './secret';

/** A value event as stored: what opening its value needs (never decrypted here). */
export interface StoredVersion {
  readonly type: string;
  readonly eventId: string;
  /** The JWE compact; absent when the event no longer holds a value. */
  readonly value: string | undefined;
  /** `data.digest`; null for events of the releases before values were bound. */
  readonly digest: string | null;
}

/** Reads single versions of a secret stream from the events table of this service's schema. */
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
}
