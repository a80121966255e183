/** Who did something, as their token named them. */
export interface AuditActor {
  readonly sub: string;
  readonly org: string;
  readonly role: string;
}

/** A key, version and scope released by a resolve call; never a value. */
export interface ResolvedReference {
  readonly key: string;
  readonly version: number;
  readonly scope: string;
}

/** The contract fields of one event on SECRETS_EVENTS; anything else the message carries is dropped. */
export interface AuditEvent {
  readonly eventId: string;
  readonly type: string;
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly key: string | null;
  readonly version: number;
  readonly actor: AuditActor;
  /** Millisecond precision, so the chained form and the stored form are the same instant. */
  readonly occurredAt: Date;
  readonly resolved: readonly ResolvedReference[];
  /** SecretValuesResolved only: who asked the service that resolved (`actor`); absent when it asked for itself. */
  readonly requestedBy?: AuditActor;
  /** SecretValuesResolved only: the deployment the values were resolved for. */
  readonly deploymentId?: string;
}

/** What the hash covers: the event plus where and when SECRETS_EVENTS stored it. */
export interface AuditRecordContent extends AuditEvent {
  /** The JetStream stream sequence of the event in SECRETS_EVENTS. */
  readonly sequence: number;
  /** When SECRETS_EVENTS stored the event (the message timestamp, ms), so a rebuild reproduces it. */
  readonly recordedAt: Date;
}

export interface AuditRecord extends AuditRecordContent {
  readonly prevHash: string;
  readonly hash: string;
}

/** The proto3-JSON form of `audit.v1.AuditRecord`. */
export interface AuditRecordJson {
  readonly sequence: number;
  readonly eventId: string;
  readonly type: string;
  readonly organizationId: string;
  readonly customerOrganizationId: string | null;
  readonly key: string | null;
  readonly version: number;
  readonly actor: AuditActor;
  readonly occurredAt: string;
  readonly recordedAt: string;
  readonly resolved: readonly ResolvedReference[];
  readonly requestedBy?: AuditActor;
  readonly deploymentId?: string;
  readonly hash: string;
  readonly prevHash: string;
}

export function auditRecordJson(record: AuditRecord): AuditRecordJson {
  return {
    sequence: record.sequence,
    eventId: record.eventId,
    type: record.type,
    organizationId: record.organizationId,
    customerOrganizationId: record.customerOrganizationId,
    key: record.key,
    version: record.version,
    actor: { sub: record.actor.sub, org: record.actor.org, role: record.actor.role },
    occurredAt: record.occurredAt.toISOString(),
    recordedAt: record.recordedAt.toISOString(),
    resolved: record.resolved.map(({ key, version, scope }) => ({ key, version, scope })),
    ...(record.requestedBy
      ? { requestedBy: { sub: record.requestedBy.sub, org: record.requestedBy.org, role: record.requestedBy.role } }
      : {}),
    ...(record.deploymentId === undefined ? {} : { deploymentId: record.deploymentId }),
    hash: record.hash,
    prevHash: record.prevHash,
  };
}
