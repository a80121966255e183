import { SECRET_STREAM_EVENT_TYPES, VALUE_EVENT_TYPES as CONTRACT_VALUE_EVENT_TYPES } from '@platform/contracts';
import { type Scope } from '@platform/messaging';

/** Who caused an event, as the caller's verified token named them. */
export interface Actor {
  readonly sub: string;
  readonly org: string;
  readonly role: string;
}

/** Recorded beside every event; the decider takes time and actor from here, never from a clock. */
export interface EventMetadata {
  readonly actor: Actor;
  /** ISO 8601 instant at which the command was decided. */
  readonly occurredAt: string;
  readonly correlationId?: string;
}

/** A secrets partition (the platform's one `Scope`): the vendor organization and, for customers, the customer. */
export type SecretScope = Scope;

type DomainEvent<Type extends string, Data> = Readonly<{ type: Type; data: Readonly<Data>; metadata: EventMetadata }>;

/**
 * `value` is a JWE compact (`dir` + `A256GCM`) bound to this stream, version and event id (`sid`, `ver`, `eid`); never
 * the plaintext. `digest` is `valueDigest(value)`; events of the previous release have neither binding nor digest.
 * `expiresAt` (ISO 8601): when this value expires; absent, never.
 */
interface SealedValueData {
  value: string;
  dataKeyId: string;
  digest?: string;
  expiresAt?: string;
}

export type SecretCreated = DomainEvent<'SecretCreated', { key: string; scope: SecretScope } & SealedValueData>;
export type SecretValueUpdated = DomainEvent<'SecretValueUpdated', SealedValueData>;
export type SecretDeleted = DomainEvent<'SecretDeleted', Record<string, never>>;
/** A new version holding the value of `fromVersion`, sealed again for its own place. */
export type SecretRolledBack = DomainEvent<'SecretRolledBack', SealedValueData & { fromVersion: number }>;
/** A deleted secret live again with the value of `fromVersion` (its last value), sealed again for its own place. */
export type SecretRestored = DomainEvent<'SecretRestored', SealedValueData & { fromVersion: number }>;

export type SecretEvent = SecretCreated | SecretValueUpdated | SecretDeleted | SecretRolledBack | SecretRestored;

/** The events that write a value (they carry `value`, `dataKeyId`, `digest` and maybe `expiresAt`). */
export const VALUE_EVENT_TYPES: readonly SecretEvent['type'][] = CONTRACT_VALUE_EVENT_TYPES;

export const ORGANIZATION_PURGED = 'OrganizationPurged';
export const CUSTOMER_PURGED = 'CustomerPurged';
export const SECRET_VERSIONS_DESTROYED = 'SecretVersionsDestroyed';

/**
 * Appended to `organization:<org>` when the organization is crypto-shredded. Not a secret event, but a fact every
 * secret of the organization is folded with: streams are read with the organization's last purge in position order.
 */
export type OrganizationPurged = DomainEvent<
  typeof ORGANIZATION_PURGED,
  { organizationId: string; dataKeysDeleted: number }
>;

/**
 * Appended to `customer:<org>:<customer>` when one customer scope is crypto-shredded (its data keys deleted): folded
 * into that customer's secrets as OrganizationPurged is into every secret of the organization.
 */
export type CustomerPurged = DomainEvent<
  typeof CUSTOMER_PURGED,
  { organizationId: string; customerOrganizationId: string; dataKeysDeleted: number }
>;

/**
 * Appended to `destroyed:<org>:<customer|_>:<key>` (not the secret's own stream: it is no version of the secret, so
 * versions, ETags and the read models stay as they were) when earlier versions' values are destroyed; the same
 * transaction erases those ciphertexts from their events (ARCHITECTURE.md §6).
 */
export type SecretVersionsDestroyed = DomainEvent<
  typeof SECRET_VERSIONS_DESTROYED,
  { organizationId: string; customerOrganizationId: string | null; key: string; versions: number[] }
>;

/** What a secret's state is folded from. */
export type SecretHistoryEvent = SecretEvent | OrganizationPurged | CustomerPurged | SecretVersionsDestroyed;

/** The secret stream's event types, from the one list in libs/contracts; each is a SecretEvent's type. */
export const SECRET_EVENT_TYPES: readonly SecretEvent['type'][] = SECRET_STREAM_EVENT_TYPES;

/** What became of a version's value: still held, or destroyed for good. */
export type ValueFate = 'held' | 'destroyed';

/** The secret's stream version and which of its versions carry a value (since the last purge). */
type Versions = Readonly<{ version: number; values: ReadonlyMap<number, ValueFate> }>;

/**
 * A secret's life: never created, live with a value, deleted, or purged with its organization or customer (deleted and
 * purged secrets can be created again in the same stream).
 */
export type SecretState =
  | Readonly<{ status: 'Absent' }>
  | (Readonly<{ status: 'Live'; key: string; scope: SecretScope }> & Versions)
  | (Readonly<{ status: 'Deleted'; key: string; scope: SecretScope }> & Versions)
  | Readonly<{ status: 'Purged'; version: number }>;

export const initialState = (): SecretState => ({ status: 'Absent' });

const versionOf = (state: SecretState): number => (state.status === 'Absent' ? 0 : state.version);
const valuesOf = (state: SecretState): ReadonlyMap<number, ValueFate> =>
  state.status === 'Live' || state.status === 'Deleted' ? state.values : new Map();

export function evolve(state: SecretState, event: SecretHistoryEvent): SecretState {
  switch (event.type) {
    case ORGANIZATION_PURGED:
    case CUSTOMER_PURGED:
      return state.status === 'Absent' ? state : { status: 'Purged', version: versionOf(state) };
    case 'SecretCreated': {
      const version = versionOf(state) + 1;
      const values = new Map(valuesOf(state)).set(version, 'held');
      return { status: 'Live', key: event.data.key, scope: event.data.scope, version, values };
    }
    case 'SecretValueUpdated':
    case 'SecretRolledBack': {
      const version = versionOf(state) + 1;
      if (state.status !== 'Live') return state.status === 'Absent' ? state : { ...state, version };
      return { ...state, version, values: new Map(state.values).set(version, 'held') };
    }
    case 'SecretRestored': {
      if (state.status === 'Absent') return state;
      const version = state.version + 1;
      return state.status === 'Deleted'
        ? {
            status: 'Live',
            key: state.key,
            scope: state.scope,
            version,
            values: new Map(state.values).set(version, 'held'),
          }
        : { ...state, version };
    }
    case 'SecretDeleted': {
      if (state.status === 'Absent') return state;
      const version = state.version + 1;
      return state.status === 'Live'
        ? { status: 'Deleted', key: state.key, scope: state.scope, version, values: state.values }
        : { ...state, version };
    }
    case SECRET_VERSIONS_DESTROYED: {
      if (state.status !== 'Live' && state.status !== 'Deleted') return state;
      const values = new Map(state.values);
      for (const version of event.data.versions) if (values.has(version)) values.set(version, 'destroyed');
      return { ...state, values };
    }
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export function isSecretEvent<E extends { readonly type: string }>(event: E): event is E & SecretEvent {
  return (SECRET_EVENT_TYPES as readonly string[]).includes(event.type);
}
