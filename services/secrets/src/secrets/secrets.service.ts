import { randomUUID } from 'node:crypto';
import { type DescMessage, type MessageShape, toJsonString } from '@bufbuild/protobuf';
import {
  CreateSecretRequestSchema,
  type CreateSecretRequest,
  DeleteSecretRequestSchema,
  type DeleteSecretRequest,
  DestroySecretVersionsRequestSchema,
  type DestroySecretVersionsRequest,
  type GetSecretHistoryRequest,
  type GetSecretRequest,
  type ListSecretsRequest,
  RestoreSecretRequestSchema,
  type RestoreSecretRequest,
  RollbackSecretRequestSchema,
  type RollbackSecretRequest,
  UpdateSecretRequestSchema,
  type UpdateSecretRequest,
} from '@platform/contracts';
import { type DataKeyRing, type ValuePlace } from '@platform/crypto';
import { ConcurrencyError, type PostgresEventStore, type RecordedEvent } from '@platform/event-store';
import { type Principal, type Scope, actorOf, assertCanWrite, userScope } from '@platform/messaging';
import { isPurgedDataKeyError } from '../keys/data-key-guard';
import {
  CUSTOMER_PURGED,
  type EventMetadata,
  ORGANIZATION_PURGED,
  SECRET_VERSIONS_DESTROYED,
  type SecretHistoryEvent,
  type SecretState,
  type SecretVersionsDestroyed,
  evolve,
  initialState,
  isSecretEvent,
} from './secret';
import { type SealedValue, type SecretCommand, assertValidKey, assertValidValue, decide } from './secret.decider';
import {
  type SecretHistoryEntry,
  type SecretSnapshot,
  type StoredEvent,
  historyOf,
  snapshotOf,
} from './secret-snapshot';
import {
  customerStreamId,
  destroyedStreamId,
  organizationOfStream,
  organizationStreamId,
  parseSecretStreamId,
  secretStreamId,
} from './secret-stream';
import { eraseDestroyedValues } from './destroyed-values.repository';
import { type SecretPublication } from '../outbox/secret-publication';
import { type IdempotencyReservation, type IdempotencyStore } from './idempotency';
import { SecretsError, SecretsErrorCode, secretNotFound } from './secrets.error';
import { type AffectedDeployments, affectedDeployments } from './deployment-index.affected';
import { SecretVersionsRepository } from './secret-versions.repository';
import { assertTargetVersion, lastValueVersion, recoverValue } from './value-recovery';
import { SecretViewRepository, type SecretViewPosition } from './secret-view.repository';

export const DEFAULT_PAGE_SIZE = 100;
export const MAX_PAGE_SIZE = 1000;
/** A lost race without `expectedVersion` is re-decided on the new state this many times. */
const WRITE_ATTEMPTS = 5;

export interface WriteOptions {
  readonly idempotencyKey?: string;
}

export interface SecretDeletion {
  readonly key: string;
  readonly version: number;
  readonly deletedAt: string;
  /** What still runs the deleted value: empty unless the delete was forced past them. */
  readonly affectedDeployments: AffectedDeployments;
}

/** Which earlier values of a secret `secrets.v1.destroy` made unrecoverable. */
export interface SecretDestruction {
  readonly key: string;
  readonly customerOrganizationId: string | null;
  readonly versions: readonly number[];
  readonly destroyedAt: string;
}

/** An update's secret, and the deployments that run an older value of it until they are redeployed. */
export type SecretUpdate = SecretSnapshot & { readonly affectedDeployments: AffectedDeployments };

/** A secret stream as a command or history sees it: with its organization's last purge. */
interface SecretStreamRead {
  readonly events: StoredEvent[];
  /** What the stream's events and the purge, in position order, fold into. */
  readonly state: SecretState;
  /** The events after the purge (every event when there was none), destructions included: the visible history. */
  readonly sincePurge: StoredEvent[];
  /** The version of the secret's `destroyed:` stream (0 when none of its values was destroyed). */
  readonly destroyedVersion: number;
}

export interface SecretPage {
  readonly secrets: readonly SecretSnapshot[];
  readonly nextPageToken?: string;
}

/** The list position after a row; opaque to callers. */
function pageTokenOf(secret: SecretSnapshot): string {
  const position = [secret.scope.customerOrganizationId ?? '', secret.key];
  return Buffer.from(JSON.stringify(position), 'utf8').toString('base64url');
}

function parsePageToken(token: string): SecretViewPosition {
  try {
    const parsed: unknown = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
    if (Array.isArray(parsed) && parsed.length === 2 && parsed.every((part) => typeof part === 'string')) {
      return { customerId: parsed[0] as string, key: parsed[1] as string };
    }
  } catch {
    // Reported below, without echoing the token.
  }
  throw new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, 'pageToken is not a token this service issued');
}

function versionConflict(key: string, expected: number, actual: number): SecretsError {
  return new SecretsError(
    SecretsErrorCode.VERSION_CONFLICT,
    `secret ${JSON.stringify(key)} is at version ${actual}, not the expected version ${expected}`,
    { expected, actual },
  );
}

/** A delete without `force` of a key that deployments of the index still run: they are listed (first page). */
function usedByDeployments(key: string, affected: AffectedDeployments): SecretsError {
  return new SecretsError(
    SecretsErrorCode.FAILED_PRECONDITION,
    `secret ${JSON.stringify(key)} is used by ${affected.count} live deployment(s); ` +
      'redeploy or forget them first, or delete with force',
    {
      key,
      count: affected.count,
      deployments: affected.deployments.map((deployment) => ({ ...deployment })),
    },
  );
}

function canonicalRequest<Desc extends DescMessage>(schema: Desc, request: MessageShape<Desc>): string {
  return toJsonString(schema, request);
}

/** What a destroy answers, read from the `SecretVersionsDestroyed` it appended. */
function destructionOf(event: RecordedEvent): SecretDestruction {
  if (event.type !== SECRET_VERSIONS_DESTROYED) throw new Error(`event ${event.eventId} is no destruction`);
  const { data, metadata } = event as unknown as SecretVersionsDestroyed;
  return {
    key: data.key,
    customerOrganizationId: data.customerOrganizationId,
    versions: data.versions,
    destroyedAt: metadata.occurredAt,
  };
}

/**
 * The user-facing secrets use cases (ARCHITECTURE.md §3, §4): authorization, validation, the decider over the
 * event store with expected versions, idempotent retries, and reads from `secret_view`.
 */
export class SecretsService {
  private readonly versions: SecretVersionsRepository;
  private readonly views: SecretViewRepository;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly keyRing: DataKeyRing,
    private readonly idempotency: IdempotencyStore,
    /** Holds each write's reply until its event is on SECRETS_EVENTS; absent only where nothing consumes them. */
    private readonly publication?: SecretPublication,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.versions = new SecretVersionsRepository(store);
    this.views = new SecretViewRepository(store);
  }

  async create(
    principal: Principal,
    request: CreateSecretRequest,
    options: WriteOptions = {},
  ): Promise<SecretSnapshot> {
    const scope = this.writableScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    assertValidValue(request.value);
    const events = await this.writeValue(principal, scope, request.key, undefined, options, {
      subject: 'secrets.v1.create',
      mostLikelyNew: true,
      canonical: () => canonicalRequest(CreateSecretRequestSchema, request),
      command: (metadata, seal) => ({
        type: 'CreateSecret',
        data: { key: request.key, scope, value: seal(request.value), expiresAt: request.expiresAt },
        metadata,
      }),
    });
    return this.snapshotAfterWrite(events);
  }

  async update(principal: Principal, request: UpdateSecretRequest, options: WriteOptions = {}): Promise<SecretUpdate> {
    const scope = this.writableScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    assertValidValue(request.value);
    const events = await this.writeValue(principal, scope, request.key, request.expectedVersion, options, {
      subject: 'secrets.v1.update',
      canonical: () => canonicalRequest(UpdateSecretRequestSchema, request),
      command: (metadata, seal) => ({
        type: 'UpdateSecretValue',
        data: { key: request.key, value: seal(request.value), expiresAt: request.expiresAt },
        metadata,
      }),
    });
    const snapshot = this.snapshotAfterWrite(events);
    return { ...snapshot, affectedDeployments: await affectedDeployments(this.store, scope, request.key) };
  }

  /**
   * Create, update, rollback and restore: a write whose command seals a new value with the scope's active data key, for
   * the place of the event it appends; retried once under a fresh key if a purge deleted the one it used.
   */
  private writeValue(
    principal: Principal,
    scope: Scope,
    key: string,
    expectedVersion: number | undefined,
    options: WriteOptions,
    request: {
      readonly subject: string;
      readonly canonical: () => string;
      readonly command: (metadata: EventMetadata, seal: (plaintext: string) => SealedValue) => SecretCommand;
      readonly mostLikelyNew?: boolean;
      readonly beforeDecide?: (state: SecretState, history: readonly StoredEvent[]) => Promise<void>;
    },
  ): Promise<StoredEvent[]> {
    return this.withLiveDataKey(scope, async () => {
      const sealer = await this.keyRing.sealerFor(scope.organizationId, scope.customerOrganizationId);
      return this.write(principal, scope, key, expectedVersion, options, {
        ...request,
        command: (metadata, place) => request.command(metadata, (plaintext) => sealer.seal(place, plaintext)),
      });
    });
  }

  /** A new version holding `toVersion`'s value, opened and sealed again for its new place (ARCHITECTURE.md §3). */
  async rollback(
    principal: Principal,
    request: RollbackSecretRequest,
    options: WriteOptions = {},
  ): Promise<SecretUpdate> {
    const scope = this.writableScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    assertTargetVersion('toVersion', request.toVersion);
    return this.bringBack(principal, scope, request.key, request.expectedVersion, options, {
      subject: 'secrets.v1.rollback',
      canonical: () => canonicalRequest(RollbackSecretRequestSchema, request),
      // Only a live secret: the decider refuses any other as before, without reading a value.
      fromVersion: (state) => (state.status === 'Live' ? request.toVersion : undefined),
      command: (metadata, fromVersion, value) => ({
        type: 'RollBackSecret',
        data: { key: request.key, fromVersion, value, expiresAt: request.expiresAt },
        metadata,
      }),
    });
  }

  /** A deleted secret live again with its last value, as a new version; a live one is FAILED_PRECONDITION. */
  async restore(
    principal: Principal,
    request: RestoreSecretRequest,
    options: WriteOptions = {},
  ): Promise<SecretUpdate> {
    const scope = this.writableScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    return this.bringBack(principal, scope, request.key, request.expectedVersion, options, {
      subject: 'secrets.v1.restore',
      canonical: () => canonicalRequest(RestoreSecretRequestSchema, request),
      fromVersion: (state, history) => {
        if (state.status !== 'Deleted') return undefined;
        const last = lastValueVersion(history);
        // A deleted secret was created since its last purge, so it has a value: never restore a placeholder.
        if (last === undefined) throw new Error(`deleted secret ${JSON.stringify(request.key)} has no value event`);
        return last;
      },
      command: (metadata, fromVersion, value) => ({
        type: 'RestoreSecret',
        data: { key: request.key, fromVersion, value, expiresAt: request.expiresAt },
        metadata,
      }),
    });
  }

  /**
   * Rollback and restore: on each read of the stream, the version to bring back is chosen from its state and history,
   * its value recovered, and sealed for the new version's place; with no version to bring back (a state the decider
   * refuses), the decider decides on a placeholder that it never appends.
   */
  private async bringBack(
    principal: Principal,
    scope: Scope,
    key: string,
    expectedVersion: number | undefined,
    options: WriteOptions,
    request: {
      readonly subject: string;
      readonly canonical: () => string;
      readonly fromVersion: (state: SecretState, history: readonly StoredEvent[]) => number | undefined;
      readonly command: (metadata: EventMetadata, fromVersion: number, value: SealedValue) => SecretCommand;
    },
  ): Promise<SecretUpdate> {
    const streamId = secretStreamId(scope, key);
    let recovered: { fromVersion: number; plaintext: string } | undefined;
    const events = await this.writeValue(principal, scope, key, expectedVersion, options, {
      subject: request.subject,
      canonical: request.canonical,
      beforeDecide: async (state, history) => {
        const fromVersion = request.fromVersion(state, history);
        recovered =
          fromVersion === undefined
            ? undefined
            : {
                fromVersion,
                plaintext: await recoverValue(this.keyRing, this.versions, scope, key, streamId, history, fromVersion),
              };
      },
      command: (metadata, seal) =>
        request.command(
          metadata,
          recovered?.fromVersion ?? 0,
          recovered ? seal(recovered.plaintext) : { jwe: '', dataKeyId: '', digest: '' },
        ),
    });
    const snapshot = this.snapshotAfterWrite(events);
    return { ...snapshot, affectedDeployments: await affectedDeployments(this.store, scope, key) };
  }

  async delete(
    principal: Principal,
    request: DeleteSecretRequest,
    options: WriteOptions = {},
  ): Promise<SecretDeletion> {
    const scope = this.writableScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    let affected: AffectedDeployments | undefined;
    const events = await this.write(principal, scope, request.key, request.expectedVersion, options, {
      subject: 'secrets.v1.delete',
      canonical: () => canonicalRequest(DeleteSecretRequestSchema, request),
      command: (metadata) => ({ type: 'DeleteSecret', data: { key: request.key }, metadata }),
      // Only a live key: a delete the decider refuses (absent, already deleted) is refused as before.
      beforeDecide: async (state) => {
        if (state.status !== 'Live') return;
        affected = await affectedDeployments(this.store, scope, request.key);
        if (affected.count > 0 && request.force !== true) throw usedByDeployments(request.key, affected);
      },
    });
    const deletion = events[events.length - 1];
    return {
      key: request.key,
      version: deletion.streamVersion,
      deletedAt: (deletion.metadata as EventMetadata).occurredAt,
      // An idempotent replay decided nothing: it answers as the first reply did, from the index (a forced delete
      // leaves the deployments there; an unforced one succeeded only without any).
      affectedDeployments: affected ?? (await affectedDeployments(this.store, scope, request.key)),
    };
  }

  /**
   * Admins only: destroys earlier values of a key (ARCHITECTURE.md §6). The decider checks the versions against the
   * stream; the `SecretVersionsDestroyed` and the erasure of those ciphertexts from their events commit together. With
   * an Idempotency-Key, a retry answers from the event the first attempt appended, and never appends another.
   */
  async destroy(
    principal: Principal,
    request: DestroySecretVersionsRequest,
    options: WriteOptions = {},
  ): Promise<SecretDestruction> {
    const scope = userScope(principal, request.customerOrganizationId);
    if (principal.orgType === 'service' || principal.role !== 'admin') {
      throw new SecretsError(SecretsErrorCode.PERMISSION_DENIED, 'destroying secret versions needs the admin role');
    }
    assertValidKey(request.key);
    const reservation = await this.reserve(principal, scope, options, {
      subject: 'secrets.v1.destroy',
      canonical: () => canonicalRequest(DestroySecretVersionsRequestSchema, request),
    });
    const replayed = reservation?.first === false ? await this.destructionById(reservation.eventId) : undefined;
    if (replayed) return replayed;
    // Chosen up front, so that a retry finds what this attempt appends.
    const eventId = reservation?.eventId ?? randomUUID();
    const streamId = secretStreamId(scope, request.key);
    const metadata: EventMetadata = { actor: actorOf(principal), occurredAt: this.clock().toISOString() };
    for (let attempt = 1; ; attempt++) {
      const read = await this.readSecret(streamId);
      let appended: RecordedEvent[];
      try {
        const decided = decide(
          { type: 'DestroySecretVersions', data: { key: request.key, scope, versions: request.versions }, metadata },
          read.state,
        ).map((event) => ({ ...event, eventId }));
        const versions = decided.flatMap((event) =>
          event.type === SECRET_VERSIONS_DESTROYED ? event.data.versions : [],
        );
        appended = await this.store.withTransaction(async (tx) => {
          const { events } = await tx.appendToStream(destroyedStreamId(scope, request.key), decided, {
            expectedVersion: read.destroyedVersion,
          });
          await eraseDestroyedValues(tx, streamId, versions);
          return events;
        });
      } catch (error) {
        // A retry that raced its own first attempt: answer with what the first attempt appended.
        const earlier = reservation === undefined ? undefined : await this.destructionById(eventId);
        if (earlier) return earlier;
        if (!(error instanceof ConcurrencyError) || attempt >= WRITE_ATTEMPTS) throw error;
        continue;
      }
      const destruction = appended[appended.length - 1];
      await this.publication?.afterWrite(destruction);
      return destructionOf(destruction);
    }
  }

  /** The destruction appended with this id, if it was, once its event is published. */
  private async destructionById(eventId: string): Promise<SecretDestruction | undefined> {
    const found = await this.store.findEvent(eventId);
    if (!found) return undefined;
    // A retry after UNAVAILABLE from the publication wait answers only once the first attempt's event is out.
    await this.publication?.afterWrite(found);
    return destructionOf(found);
  }

  async get(principal: Principal, request: GetSecretRequest): Promise<SecretSnapshot> {
    const scope = userScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    const secret = await this.views.findLive(scope, request.key);
    if (!secret) throw secretNotFound(request.key);
    return secret;
  }

  /**
   * A vendor user without a filter sees every secret of its organization (vendor-level first, then each customer's);
   * with a filter, or as a customer user, one scope.
   */
  async list(principal: Principal, request: ListSecretsRequest): Promise<SecretPage> {
    const scope = userScope(principal, request.customerOrganizationId);
    const pageSize = Math.min(request.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const after = request.pageToken ? parsePageToken(request.pageToken) : undefined;
    const wholeOrganization = principal.orgType === 'vendor' && request.customerOrganizationId === undefined;
    const rows = await this.views.listLive({
      organizationId: scope.organizationId,
      customerId: wholeOrganization ? undefined : (scope.customerOrganizationId ?? ''),
      after,
      limit: pageSize + 1,
    });
    const page = rows.slice(0, pageSize);
    return {
      secrets: page,
      nextPageToken: rows.length > pageSize ? pageTokenOf(page[page.length - 1]) : undefined,
    };
  }

  /** Every version of a key in the scope since its organization's last purge, deleted or not; never a value. */
  async history(principal: Principal, request: GetSecretHistoryRequest): Promise<SecretHistoryEntry[]> {
    const scope = userScope(principal, request.customerOrganizationId);
    assertValidKey(request.key);
    const versions = historyOf((await this.readSecret(secretStreamId(scope, request.key))).sincePurge);
    if (versions.length === 0) throw secretNotFound(request.key);
    return versions;
  }

  private writableScope(principal: Principal, customerOrganizationId: string | undefined): Scope {
    const scope = userScope(principal, customerOrganizationId);
    assertCanWrite(principal);
    return scope;
  }

  /**
   * Runs a write that seals its value, and once more if the append was refused because the data key it used was
   * purged meanwhile (a purge by another process, or a key this instance still cached): with the organization's keys
   * forgotten, the retry seals under a new key and decides on a fresh read, which sees the purge.
   */
  private async withLiveDataKey<T>(scope: Scope, write: () => Promise<T>): Promise<T> {
    try {
      return await write();
    } catch (error) {
      if (!isPurgedDataKeyError(error)) throw error;
      this.keyRing.forgetOrganization(scope.organizationId);
      return write();
    }
  }

  private snapshotAfterWrite(events: readonly StoredEvent[]): SecretSnapshot {
    const snapshot = snapshotOf(events);
    if (!snapshot) throw new Error('a secret write left no secret behind');
    return snapshot;
  }

  /**
   * Reads the stream, checks `expectedVersion`, decides and appends at the version read. Returns the stream's events
   * up to and including the one appended — or, for a retry of an idempotent request, up to the one appended first.
   */
  private async write(
    principal: Principal,
    scope: Scope,
    key: string,
    expectedVersion: number | undefined,
    options: WriteOptions,
    request: {
      readonly subject: string;
      readonly canonical: () => string;
      /** Seals its value, if any, for `place`: the stream, version and id of the event the command will append. */
      readonly command: (metadata: EventMetadata, place: ValuePlace) => SecretCommand;
      /** Creates: try the append on an empty stream before reading it. */
      readonly mostLikelyNew?: boolean;
      /** Checks the state read, before each decision; may refuse by throwing. Not run for an idempotent replay. */
      readonly beforeDecide?: (state: SecretState, history: readonly StoredEvent[]) => Promise<void>;
    },
  ): Promise<StoredEvent[]> {
    const reservation = await this.reserve(principal, scope, options, request);
    const idempotentEventId = reservation?.eventId;
    const replayed = reservation?.first === false ? await this.streamUpToEvent(reservation.eventId) : undefined;
    if (replayed) return replayed;
    // Chosen before the append, since the value's ciphertext is bound to it.
    const eventId = idempotentEventId ?? randomUUID();
    const streamId = secretStreamId(scope, key);
    const { organizationId, customerOrganizationId } = scope;
    const metadata: EventMetadata = { actor: actorOf(principal), occurredAt: this.clock().toISOString() };
    for (let attempt = 1; ; attempt++) {
      // Most creates are of new keys: decide on the empty stream first and let the append's version check say
      // otherwise, which saves a read; a stream that exists is read and decided again.
      const optimistic = attempt === 1 && request.mostLikelyNew === true;
      // Callers seal before this read, so a purge committed after it has deleted the key and the append is refused.
      const { events, state, sincePurge } = optimistic
        ? { events: [], state: initialState(), sincePurge: [] }
        : await this.readSecret(streamId);
      const currentStreamVersion = events.length === 0 ? 0 : events[events.length - 1].streamVersion;
      if (expectedVersion !== undefined && expectedVersion !== currentStreamVersion) {
        throw versionConflict(key, expectedVersion, currentStreamVersion);
      }
      await request.beforeDecide?.(state, sincePurge);
      let appended: RecordedEvent[];
      try {
        // Every secret command decides at most one event, which lands at the next version.
        const place = { organizationId, customerOrganizationId, streamId, version: currentStreamVersion + 1, eventId };
        const decided = decide(request.command(metadata, place), state).map((event) => ({
          ...event,
          eventId,
        }));
        appended = (await this.store.appendToStream(streamId, decided, { expectedVersion: currentStreamVersion }))
          .events;
      } catch (error) {
        // A retry that raced its own first attempt: answer with what the first attempt appended.
        const earlier = idempotentEventId === undefined ? undefined : await this.streamUpToEvent(idempotentEventId);
        if (earlier) return earlier;
        if (!(error instanceof ConcurrencyError)) throw error;
        if (expectedVersion !== undefined) throw versionConflict(key, expectedVersion, error.actual);
        if (attempt >= WRITE_ATTEMPTS) throw error;
        continue;
      }
      const last = appended[appended.length - 1];
      if (last) await this.publication?.afterWrite(last);
      return [...events, ...appended];
    }
  }

  /**
   * Records the request under its Idempotency-Key, when it carries one, with the scope it writes to: the id its event
   * is appended with, and whether an earlier attempt holds the key.
   */
  private async reserve(
    principal: Principal,
    scope: Scope,
    options: WriteOptions,
    request: { readonly subject: string; readonly canonical: () => string },
  ): Promise<IdempotencyReservation | undefined> {
    if (options.idempotencyKey === undefined) return undefined;
    return this.idempotency.reserve(
      { principal, subject: request.subject, idempotencyKey: options.idempotencyKey, target: scope },
      request.canonical(),
    );
  }

  /** The stream up to the event with this id, if it was appended, once that event is published. */
  private async streamUpToEvent(eventId: string): Promise<StoredEvent[] | undefined> {
    const found = await this.store.findEvent(eventId);
    if (!found) return undefined;
    // A retry after UNAVAILABLE from the publication wait answers only once the first attempt's event is out.
    await this.publication?.afterWrite(found);
    return (await this.store.readStream(found.streamId, { to: found.streamVersion })).events;
  }

  /**
   * A secret stream's events with its organization's last purge, its customer's last purge and the destructions of its
   * values, in position order, in one round trip; a purge makes every earlier event of the stream history that no
   * command or read sees (crypto-shredded).
   */
  private async readSecret(streamId: string): Promise<SecretStreamRead> {
    const organizationId = organizationOfStream(streamId) ?? '';
    const address = parseSecretStreamId(streamId);
    const customerId = address?.scope.customerOrganizationId ?? null;
    const rows = await this.versions.readSecretStream({
      streamId,
      organizationPurges: organizationStreamId(organizationId),
      // A vendor-level secret has no customer purge: no stream has this id.
      customerPurges: customerId === null ? '' : customerStreamId(organizationId, customerId),
      destructions: address ? destroyedStreamId(address.scope, address.key) : '',
    });
    const events: StoredEvent[] = [];
    let sincePurge: StoredEvent[] = [];
    let state = initialState();
    let destroyedVersion = 0;
    for (const { stream_id: rowStream, stream_version: streamVersion, type, data, metadata } of rows) {
      if (type === ORGANIZATION_PURGED || type === CUSTOMER_PURGED) {
        state = evolve(state, { type, data, metadata } as SecretHistoryEvent);
        sincePurge = [];
        continue;
      }
      const event: StoredEvent = {
        streamId: rowStream,
        streamVersion,
        type,
        data,
        metadata: metadata as StoredEvent['metadata'],
      };
      if (type === SECRET_VERSIONS_DESTROYED) {
        state = evolve(state, event as unknown as SecretHistoryEvent);
        destroyedVersion = streamVersion;
        sincePurge.push(event);
        continue;
      }
      if (isSecretEvent(event)) state = evolve(state, event);
      events.push(event);
      sincePurge.push(event);
    }
    return { events, state, sincePurge, destroyedVersion };
  }
}
