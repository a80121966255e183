import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { SecretEventSchema, toWireJson } from '@platform/contracts';
import { type RecordedEvent } from '@platform/event-store';
import { type JetStreamClient } from 'nats';
import { type Actor, type EventMetadata, type SecretScope } from '../secrets/secret';
import { organizationOfStream, parseDestroyedStreamId, parseSecretStreamId } from '../secrets/secret-stream';
import { type ResolvedReference } from '../resolve/secret-resolver';
import { SECRET_EXPOSED, type SecretExposedData } from '../exposure/secret-exposure';

const encoder = new TextEncoder();

/** The proto's Actor: role is empty for service tokens (recorded as `service`). */
export function wireActor(actor: Actor): Actor {
  return { sub: actor.sub, org: actor.org, role: actor.role === 'service' ? '' : actor.role };
}

interface Addressed {
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly key: string | null;
  readonly resolved: readonly ResolvedReference[];
  /** SecretValuesResolved only, when the resolve named them (ARCHITECTURE.md §4). */
  readonly deploymentId?: string;
  readonly requestedBy?: Actor;
  /** SecretExposed only: the sightings reported. */
  readonly exposure?: Pick<SecretExposedData, 'version' | 'lineCount' | 'firstSeenAt' | 'lastSeenAt'>;
  /** SecretVersionsDestroyed only. */
  readonly destroyedVersions?: readonly number[];
}

/** A SecretExposed event: the deployment's scope, the key seen as its one reference, and the sightings. */
function exposureAddress(data: SecretExposedData): Addressed {
  return {
    organizationId: data.organizationId,
    customerOrganizationId: data.customerOrganizationId,
    key: data.key,
    resolved: [{ key: data.key, version: data.version, scope: data.scope }],
    deploymentId: data.deploymentId,
    exposure: data,
  };
}

/** Where an event belongs, from its data when it says so, else from its stream id. */
function addressOf(event: RecordedEvent): Addressed {
  const data = (event.data ?? {}) as {
    key?: string;
    scope?: SecretScope;
    organizationId?: string;
    customerOrganizationId?: string | null;
    resolved?: ResolvedReference[];
    deploymentId?: string;
    requestedBy?: Actor;
    versions?: number[];
  };
  if (event.type === SECRET_EXPOSED) return exposureAddress(event.data as SecretExposedData);
  const secret = parseSecretStreamId(event.streamId);
  if (secret) {
    return { ...secret.scope, key: secret.key, resolved: [] };
  }
  const destroyed = parseDestroyedStreamId(event.streamId);
  if (destroyed) {
    return { ...destroyed.scope, key: destroyed.key, resolved: [], destroyedVersions: data.versions ?? [] };
  }
  return {
    organizationId: data.organizationId ?? organizationOfStream(event.streamId) ?? '',
    customerOrganizationId: data.customerOrganizationId ?? null,
    // Expiry notices name their secret in their data (they live in a stream of their own).
    key: typeof data.key === 'string' ? data.key : null,
    resolved: data.resolved ?? [],
    deploymentId: data.deploymentId,
    requestedBy: data.requestedBy,
  };
}

/** A value event's ciphertext digest (ARCHITECTURE.md §6), for consumers that record it; never the value. */
function digestOf(event: RecordedEvent): string | undefined {
  const { digest } = (event.data ?? {}) as { digest?: unknown };
  return typeof digest === 'string' ? digest : undefined;
}

/** What a value event or an expiry notice says about expiry and origin: instants and versions, never a value. */
function lifecycleOf(event: RecordedEvent) {
  const { expiresAt, fromVersion, version } = (event.data ?? {}) as {
    expiresAt?: unknown;
    fromVersion?: unknown;
    version?: unknown;
  };
  const notice = event.type === 'SecretExpiring' || event.type === 'SecretExpired';
  return {
    expiresAt: typeof expiresAt === 'string' ? timestampFromDate(new Date(expiresAt)) : undefined,
    fromVersion: typeof fromVersion === 'number' ? fromVersion : undefined,
    valueVersion: notice && typeof version === 'number' ? version : undefined,
  };
}

/**
 * The JSON published on `secrets.events.<org>.<Type>` (ARCHITECTURE.md §3): metadata only — event data carries JWE
 * values, so nothing of `data` is copied except names, versions, scopes and the value's digest.
 */
export function secretEventMessage(event: RecordedEvent): { subject: string; payload: Uint8Array } {
  const address = addressOf(event);
  const metadata = event.metadata as EventMetadata;
  const message = toWireJson(SecretEventSchema, {
    eventId: event.eventId,
    type: event.type,
    organizationId: address.organizationId,
    customerOrganizationId: address.customerOrganizationId ?? undefined,
    key: address.key ?? undefined,
    version: event.streamVersion,
    actor: wireActor(metadata.actor),
    occurredAt: timestampFromDate(new Date(metadata.occurredAt)),
    position: Number(event.position),
    resolved: address.resolved.map(({ key, version, scope }) => ({ key, version, scope })),
    valueDigest: digestOf(event),
    requestedBy: address.requestedBy && wireActor(address.requestedBy),
    deploymentId: address.deploymentId,
    ...lifecycleOf(event),
    exposure: address.exposure && {
      version: address.exposure.version,
      firstSeenAt: timestampFromDate(new Date(address.exposure.firstSeenAt)),
      lastSeenAt: timestampFromDate(new Date(address.exposure.lastSeenAt)),
      lineCount: address.exposure.lineCount,
    },
    destroyedVersions: address.destroyedVersions === undefined ? [] : [...address.destroyedVersions],
  });
  return {
    subject: `secrets.events.${address.organizationId}.${event.type}`,
    payload: encoder.encode(JSON.stringify(message)),
  };
}

/**
 * The outbox's publish step: one JetStream publish per event, deduplicated by event id, resolved on the PubAck. Given
 * the event sent before it (pipelined batches), the stream stores it only right after that one, so a refused or lost
 * publish can never let a later event overtake it; the outbox resends from the refused one.
 */
export class SecretEventPublisher {
  constructor(
    private readonly jetstream: JetStreamClient,
    private readonly subjectPrefix: string,
  ) {}

  async publish(event: RecordedEvent, previous?: RecordedEvent): Promise<void> {
    const { subject, payload } = secretEventMessage(event);
    await this.jetstream.publish(this.subjectPrefix + subject, payload, {
      msgID: event.eventId,
      expect: previous && { lastMsgID: previous.eventId },
    });
  }
}
