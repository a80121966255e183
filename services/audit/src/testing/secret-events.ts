import { ensureStreams, streamConfig } from '@platform/messaging';
import { type NatsConnection, headers as natsHeaders } from 'nats';
import { randomUUID } from 'node:crypto';
import { parseAuditEvent } from '../records/audit-event';
import { type StreamedEvent } from '../records/audit-store.repository';

/** The JSON a secrets outbox publishes on `secrets.events.<org>.<Type>` (platform contract). */
export interface SecretEventJson {
  readonly eventId: string;
  readonly type: string;
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly key: string | null;
  readonly version: number;
  readonly actor: { readonly sub: string; readonly org: string; readonly role: string };
  readonly occurredAt: string;
  readonly position: number;
  readonly resolved?: ReadonlyArray<{ key: string; version: number; scope: string }>;
  readonly [extra: string]: unknown;
}

let position = 0;

/** A SecretCreated event of vendor `acme` by its admin, with any field overridden. */
export function secretEvent(overrides: Partial<SecretEventJson> = {}): SecretEventJson {
  position += 1;
  const organizationId = overrides.organizationId ?? 'acme';
  return {
    eventId: randomUUID(),
    type: 'SecretCreated',
    organizationId,
    customerOrganizationId: null,
    key: 'DB_PASSWORD',
    version: 1,
    actor: { sub: `admin@${organizationId}`, org: organizationId, role: 'admin' },
    occurredAt: new Date().toISOString(),
    position,
    ...overrides,
  };
}

/** An access event: one resolve call that released these keys. */
export function valuesResolvedEvent(
  resolved: ReadonlyArray<{ key: string; version: number; scope: string }>,
  overrides: Partial<SecretEventJson> = {},
): SecretEventJson {
  return secretEvent({
    type: 'SecretValuesResolved',
    key: null,
    version: 0,
    actor: { sub: 'service:render', org: 'render', role: 'service' },
    resolved,
    ...overrides,
  });
}

const encoder = new TextEncoder();

/**
 * Creates the test-prefixed SECRETS_EVENTS stream, as the services do at start. `allowDeletes` leaves out
 * `deny_delete`/`deny_purge`, so a test can play an insider who removed messages (through a stream recreated without
 * them, or at the storage level) and check what the audit trail makes of the hole.
 */
export async function createSecretsEventsStream(
  nats: NatsConnection,
  subjectPrefix: string,
  options: { allowDeletes?: boolean } = {},
): Promise<void> {
  if (!options.allowDeletes) {
    await ensureStreams(nats, ['SECRETS_EVENTS'], { subjectPrefix, replicas: 1 });
    return;
  }
  const config = {
    ...streamConfig('SECRETS_EVENTS', { subjectPrefix, replicas: 1 }),
    deny_delete: false,
    deny_purge: false,
  };
  await (await nats.jetstreamManager()).streams.add(config);
}

/**
 * Publishes events as the secrets outbox does (`Nats-Msg-Id` = eventId unless `messageId` says otherwise),
 * many in flight at once; resolves with their stream sequences once every PubAck arrived.
 */
export async function publishSecretEvents(
  nats: NatsConnection,
  subjectPrefix: string,
  events: readonly (SecretEventJson | { subjectOrg: string; type: string; raw: string })[],
  options: { messageId?: (index: number) => string; window?: number } = {},
): Promise<number[]> {
  const js = nats.jetstream();
  const sequences: number[] = [];
  const window = options.window ?? 500;
  for (let start = 0; start < events.length; start += window) {
    const acks = events.slice(start, start + window).map((event, offset) => {
      const headers = natsHeaders();
      const index = start + offset;
      const id = options.messageId?.(index) ?? ('eventId' in event ? event.eventId : randomUUID());
      headers.set('Nats-Msg-Id', id);
      const org = 'eventId' in event ? event.organizationId : event.subjectOrg;
      const body = 'eventId' in event ? JSON.stringify(event) : event.raw;
      return js.publish(`${subjectPrefix}secrets.events.${org}.${event.type}`, encoder.encode(body), { headers });
    });
    for (const ack of await Promise.all(acks)) sequences.push(ack.seq);
  }
  return sequences;
}

/** Events as the consumer hands them to the store: stream sequences from `firstSequence` on, `spacingMs` apart. */
export function streamedEvents(events: readonly SecretEventJson[], firstSequence = 1, spacingMs = 1): StreamedEvent[] {
  return events.map((event, i) => ({
    sequence: firstSequence + i,
    recordedAt: new Date(Date.UTC(2026, 0, 1, 12) + i * spacingMs),
    event: parseAuditEvent(encoder.encode(JSON.stringify(event))),
  }));
}
