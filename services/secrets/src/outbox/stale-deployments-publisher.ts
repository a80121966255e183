import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { DeploymentsStaleSchema, STALING_EVENT_TYPES, toWireJson } from '@platform/contracts';
import { type PostgresEventStore, type RecordedEvent } from '@platform/event-store';
import { type JetStreamClient } from 'nats';
import { type EventMetadata } from '../secrets/secret';
import { NO_CUSTOMER, parseSecretStreamId } from '../secrets/secret-stream';
import { type StaleDeploymentRow, staleDeployments } from './stale-deployments.repository';

/** The stale outbox's checkpoint name (and lock); it reads the same events as SECRETS_EVENTS's outbox. */
export const DEPLOYMENTS_STALE_OUTBOX = 'deployments-stale';
/** Deployments per message: a scope with more is published in parts, each well under max_payload. */
export const STALE_PART_SIZE = 1000;

/** What leaves deployments behind; the stale outbox reads only these (`eventTypes`), passing over access events. */
const CHANGE_TYPES: ReadonlySet<string> = new Set(STALING_EVENT_TYPES);
const encoder = new TextEncoder();

export interface StaleMessage {
  readonly subject: string;
  readonly msgId: string;
  readonly payload: Uint8Array;
}

/**
 * The messages for one change: per customer of the stale deployments ('' = vendor-level, `_` in the subject), in parts
 * of STALE_PART_SIZE, on `deployments.events.<org>.<customer|_>.stale`, so a customer's subscription hears of its own
 * deployments only. Metadata only.
 */
export function staleMessages(event: RecordedEvent, rows: readonly StaleDeploymentRow[]): StaleMessage[] {
  const address = parseSecretStreamId(event.streamId);
  if (!address) return [];
  const metadata = event.metadata as EventMetadata;
  const byCustomer = new Map<string, StaleDeploymentRow[]>();
  for (const row of rows) {
    const group = byCustomer.get(row.customer_id);
    if (group) group.push(row);
    else byCustomer.set(row.customer_id, [row]);
  }
  const messages: StaleMessage[] = [];
  for (const [customerId, deployments] of byCustomer) {
    const token = customerId === '' ? NO_CUSTOMER : customerId;
    const parts = Math.ceil(deployments.length / STALE_PART_SIZE);
    for (let part = 1; part <= parts; part++) {
      const slice = deployments.slice((part - 1) * STALE_PART_SIZE, part * STALE_PART_SIZE);
      const message = toWireJson(DeploymentsStaleSchema, {
        eventId: event.eventId,
        organizationId: address.scope.organizationId,
        customerOrganizationId: customerId === '' ? undefined : customerId,
        key: address.key,
        scope: address.scope.customerOrganizationId === null ? 'vendor' : 'customer',
        version: event.streamVersion,
        deleted: event.type === 'SecretDeleted',
        occurredAt: timestampFromDate(new Date(metadata.occurredAt)),
        deployments: slice.map((row) => ({
          deploymentId: row.deployment_id,
          receivedVersion: row.received_version,
          lastRenderedAt: timestampFromDate(new Date(Math.round(Number(row.rendered_ms)))),
        })),
        part,
        parts,
      });
      messages.push({
        subject: `deployments.events.${address.scope.organizationId}.${token}.stale`,
        msgId: `${event.eventId}:${token}:${part}`,
        payload: encoder.encode(JSON.stringify(message)),
      });
    }
  }
  return messages;
}

/**
 * The stale outbox's publish step (ARCHITECTURE.md §3, "Stale notifications"): for each new value or delete of a secret,
 * in event order, the deployments of the index that then run an older version, published to DEPLOYMENTS_EVENTS and
 * resolved on every PubAck. The outbox advances its own checkpoint only after that, so a crash republishes (deduped by
 * Nats-Msg-Id) and never loses one. Other events pass.
 */
export class StaleDeploymentsPublisher {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly jetstream: JetStreamClient,
    private readonly subjectPrefix: string,
  ) {}

  async publish(event: RecordedEvent): Promise<void> {
    if (!CHANGE_TYPES.has(event.type)) return;
    const address = parseSecretStreamId(event.streamId);
    if (!address) return;
    const rows = await staleDeployments(this.store, address.scope, address.key, event.streamVersion);
    await Promise.all(
      staleMessages(event, rows).map(({ subject, msgId, payload }) =>
        this.jetstream.publish(this.subjectPrefix + subject, payload, { msgID: msgId }),
      ),
    );
  }
}
