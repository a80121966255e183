import { type RecordedEvent } from '@platform/event-store';
import { type SecretExposure } from '../exposure/secret-exposure';
import {
  type Actor,
  type EventMetadata,
  SECRET_VERSIONS_DESTROYED,
  type SecretEvent,
  type SecretScope,
  type SecretVersionsDestroyed,
  isSecretEvent,
} from './secret';

/** What a caller may see of a secret at one version: metadata only, never a value. */
export interface SecretSnapshot {
  readonly streamId: string;
  readonly key: string;
  readonly scope: SecretScope;
  readonly version: number;
  readonly live: boolean;
  readonly createdAt: string;
  readonly createdBy: string;
  readonly updatedAt: string;
  readonly updatedBy: string;
  /** When the current value expires; absent, never (and while deleted). */
  readonly expiresAt?: string;
  /** get and list only: the latest exposed version's sightings (`secret_exposure`), when one was ever exposed. */
  readonly exposure?: SecretExposure;
}

/** One entry of `secrets.v1.history`. */
export interface SecretHistoryEntry {
  /** 0 for a SecretVersionsDestroyed: it is no version of the secret. */
  readonly version: number;
  readonly type: SecretEvent['type'] | typeof SECRET_VERSIONS_DESTROYED;
  readonly occurredAt: string;
  readonly actor: Actor;
  /** SecretRolledBack and SecretRestored: the version whose value was brought back. */
  readonly fromVersion?: number;
  /** Value events: when that version's value expires. */
  readonly expiresAt?: string;
  /** A value version whose value was destroyed later. */
  readonly destroyed: boolean;
  /** SecretVersionsDestroyed only: the versions it destroyed. */
  readonly destroyedVersions: readonly number[];
}

/** The expiry and origin a value event records, if any. */
function valueFacts(data: unknown): { expiresAt?: string; fromVersion?: number } {
  const { expiresAt, fromVersion } = (data ?? {}) as { expiresAt?: unknown; fromVersion?: unknown };
  return {
    ...(typeof expiresAt === 'string' ? { expiresAt } : {}),
    ...(typeof fromVersion === 'number' ? { fromVersion } : {}),
  };
}

/** The parts of a recorded event that secret metadata is folded from. */
export type StoredEvent = Pick<RecordedEvent, 'streamId' | 'streamVersion' | 'type' | 'data' | 'metadata'>;

/** Folds a secret stream's recorded events into its metadata at the last of them; undefined for an empty stream. */
export function snapshotOf(events: readonly StoredEvent[]): SecretSnapshot | undefined {
  let snapshot: SecretSnapshot | undefined;
  for (const event of events) {
    if (!isSecretEvent(event)) continue;
    const { occurredAt, actor } = event.metadata as EventMetadata;
    const type = event.type as SecretEvent['type'];
    switch (type) {
      case 'SecretCreated': {
        const { key, scope } = event.data as Extract<SecretEvent, { type: 'SecretCreated' }>['data'];
        const { expiresAt } = valueFacts(event.data);
        snapshot = {
          streamId: event.streamId,
          key,
          scope,
          version: event.streamVersion,
          live: true,
          createdAt: occurredAt,
          createdBy: actor.sub,
          updatedAt: occurredAt,
          updatedBy: actor.sub,
          ...(expiresAt === undefined ? {} : { expiresAt }),
        };
        break;
      }
      case 'SecretValueUpdated':
      case 'SecretRolledBack':
      case 'SecretRestored':
      case 'SecretDeleted':
        if (snapshot) {
          const { expiresAt: _previous, ...rest } = snapshot;
          const { expiresAt } = valueFacts(event.data);
          snapshot = {
            ...rest,
            version: event.streamVersion,
            live: type !== 'SecretDeleted',
            updatedAt: occurredAt,
            updatedBy: actor.sub,
            ...(expiresAt === undefined ? {} : { expiresAt }),
          };
        }
        break;
      default: {
        const _exhaustive: never = type;
        return _exhaustive;
      }
    }
  }
  return snapshot;
}

const isDestruction = (event: StoredEvent): boolean => event.type === SECRET_VERSIONS_DESTROYED;

/** The secret's events and the destructions of its values among them, in position order. */
export function historyOf(events: readonly StoredEvent[]): SecretHistoryEntry[] {
  const destroyed = new Set(
    events.filter(isDestruction).flatMap((event) => (event.data as SecretVersionsDestroyed['data']).versions),
  );
  return events
    .filter((event) => isSecretEvent(event) || isDestruction(event))
    .map((event) => {
      const { occurredAt, actor } = event.metadata as EventMetadata;
      const destruction = isDestruction(event);
      return {
        version: destruction ? 0 : event.streamVersion,
        type: event.type as SecretHistoryEntry['type'],
        occurredAt,
        actor: { sub: actor.sub, org: actor.org, role: actor.role },
        destroyed: !destruction && event.type !== 'SecretDeleted' && destroyed.has(event.streamVersion),
        destroyedVersions: destruction ? [...(event.data as SecretVersionsDestroyed['data']).versions] : [],
        ...(destruction ? {} : valueFacts(event.data)),
      };
    });
}
