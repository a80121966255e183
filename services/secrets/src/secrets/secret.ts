import { SECRET_STREAM_EVENT_TYPES } from '@platform/contracts';
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
 */
export type SecretCreated = DomainEvent<
  'SecretCreated',
  { key: string; scope: SecretScope; value: string; dataKeyId: string; digest?: string }
>;
export type SecretValueUpdated = DomainEvent<
  'SecretValueUpdated',
  { value: string; dataKeyId: string; digest?: string }
>;
export type SecretDeleted = DomainEvent<'SecretDeleted', Record<string, never>>;

export type SecretEvent = SecretCreated | SecretValueUpdated | SecretDeleted;

export const ORGANIZATION_PURGED = 'OrganizationPurged';

/**
 * Appended to `organization:<org>` when the organization is crypto-shredded. Not a secret event, but a fact every
 * secret of the organization is folded with: streams are read with the organization's last purge in position order.
 */
export type OrganizationPurged = DomainEvent<
  typeof ORGANIZATION_PURGED,
  { organizationId: string; dataKeysDeleted: number }
>;

/** What a secret's state is folded from. */
export type SecretHistoryEvent = SecretEvent | OrganizationPurged;

/** The secret stream's event types, from the one list in libs/contracts; each is a SecretEvent's type. */
export const SECRET_EVENT_TYPES: readonly SecretEvent['type'][] = SECRET_STREAM_EVENT_TYPES;

/**
 * A secret's life: never created, live with a value, deleted, or purged with its organization (deleted and purged
 * secrets can be created again in the same stream).
 */
export type SecretState =
  | Readonly<{ status: 'Absent' }>
  | Readonly<{ status: 'Live'; key: string; scope: SecretScope }>
  | Readonly<{ status: 'Deleted'; key: string; scope: SecretScope }>
  | Readonly<{ status: 'Purged' }>;

export const initialState = (): SecretState => ({ status: 'Absent' });

export function evolve(state: SecretState, event: SecretHistoryEvent): SecretState {
  switch (event.type) {
    case ORGANIZATION_PURGED:
      return state.status === 'Absent' ? state : { status: 'Purged' };
    case 'SecretCreated':
      return { status: 'Live', key: event.data.key, scope: event.data.scope };
    case 'SecretValueUpdated':
      return state;
    case 'SecretDeleted':
      return state.status === 'Live' ? { status: 'Deleted', key: state.key, scope: state.scope } : state;
    default: {
      const _exhaustive: never = event;
      return _exhaustive;
    }
  }
}

export function isSecretEvent<E extends { readonly type: string }>(event: E): event is E & SecretEvent {
  return (SECRET_EVENT_TYPES as readonly string[]).includes(event.type);
}
