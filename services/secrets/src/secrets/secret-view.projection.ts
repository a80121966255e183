import {
  type InlineProjection,
  type InlineStatement,
  type NewEvent,
  type ProjectionContext,
  type RebuildRange,
  type RecordedEvent,
} from '@platform/event-store';
import { PURGE_TYPES, purgedScopeOf, purgesInRange, removePurgedRows } from './purges-in-range.repository';
import { SECRET_EVENT_TYPES, type EventMetadata, type SecretEvent, isSecretEvent } from './secret';
import { SECRET_VIEW_WRITES as SQL } from './secret-view.repository';
import { secretId } from './secret-stream';

export { ORGANIZATION_PURGED } from './secret';

/**
 * `secret_view`: one row per secret stream. A deleted secret keeps its row (`deleted`, no value) so resolve can still
 * find its stream for history; `customer_id` is '' for vendor-level secrets so it can be sorted and keyed.
 */
export interface SecretViewRow {
  readonly stream_id: string;
  readonly id: string;
  readonly organization_id: string;
  readonly customer_id: string;
  readonly key: string;
  readonly version: number;
  readonly deleted: boolean;
  readonly created_at: string;
  readonly created_by: string;
  readonly updated_at: string;
  readonly updated_by: string;
  /** The current value's JWE compact, null once deleted; never plaintext. */
  readonly value: string | null;
  readonly data_key_id: string | null;
  /** When the current value expires (ISO); null when it never does, and once deleted. */
  readonly expires_at: string | null;
}

type RowPatch = Pick<
  SecretViewRow,
  'stream_id' | 'version' | 'deleted' | 'updated_at' | 'updated_by' | 'value' | 'data_key_id' | 'expires_at'
>;

/** The net effect of a batch on one stream: a whole row (it was created in the batch), or a change to its row. */
type Change =
  { readonly kind: 'upsert'; readonly row: SecretViewRow } | { readonly kind: 'patch'; readonly patch: RowPatch };

const PREPARED = { prepared: true } as const;

function column<T, K extends keyof T>(items: readonly T[], key: K): T[K][] {
  return items.map((item) => item[key]);
}

/**
 * Keeps `secret_view` in the append transaction. A batch (one append inline, thousands in a rebuild) is folded per
 * stream into its net change first, then written with at most two set-based statements, so a rebuild runs at the
 * speed of reading events rather than of one round trip per event.
 */
export class SecretViewProjection implements InlineProjection {
  readonly name = 'secret_view';
  readonly eventTypes = [...SECRET_EVENT_TYPES, ...PURGE_TYPES];

  async handle(events: readonly RecordedEvent[], context: ProjectionContext): Promise<void> {
    let changes = new Map<string, Change>();
    for (const event of events) {
      if (PURGE_TYPES.includes(event.type)) {
        // A purge removes rows written before it, so what is pending must land first.
        await this.apply(changes, context);
        changes = new Map();
        await removePurgedRows(context, 'secret_view', purgedScopeOf(event.data));
        continue;
      }
      changes.set(event.streamId, this.fold(changes.get(event.streamId), event));
    }
    await this.apply(changes, context);
  }

  /** Secret events project inside the append statement; a purge needs `handle`. */
  inlineStatement(streamId: string, events: readonly NewEvent[], firstParam: number): InlineStatement | undefined {
    if (!events.every((event) => isSecretEvent(event))) return undefined;
    return { sql: SQL.inlineUpsert(firstParam), params: [secretId(streamId)] };
  }

  async truncate(context: ProjectionContext): Promise<void> {
    await context.execute(SQL.truncate);
  }

  /** The rebuild's batch, in Postgres: split at purges, which remove what came before them. */
  async rebuildBatch(context: ProjectionContext, range: RebuildRange): Promise<void> {
    const purges = await purgesInRange(context, range);
    let after = range.after.toString();
    for (const purge of purges) {
      await this.rebuildRange(context, after, purge.position);
      await removePurgedRows(context, 'secret_view', purge);
      after = purge.position;
    }
    await this.rebuildRange(context, after, range.upTo.toString());
  }

  private async rebuildRange(context: ProjectionContext, after: string, upTo: string): Promise<void> {
    const created = await context.execute<{ stream_id: string }>(SQL.createdStreams, [after, upTo]);
    const streamIds = created.map((row) => row.stream_id);
    await context.execute(SQL.rebuildRange, [after, upTo, streamIds, streamIds.map(secretId)]);
  }

  private fold(pending: Change | undefined, event: RecordedEvent): Change {
    const { occurredAt, actor } = event.metadata as EventMetadata;
    const secretEvent = event as unknown as SecretEvent;
    switch (secretEvent.type) {
      case 'SecretCreated': {
        const { key, scope, value, dataKeyId, expiresAt } = secretEvent.data;
        return {
          kind: 'upsert',
          row: {
            stream_id: event.streamId,
            id: secretId(event.streamId),
            organization_id: scope.organizationId,
            customer_id: scope.customerOrganizationId ?? '',
            key,
            version: event.streamVersion,
            deleted: false,
            created_at: occurredAt,
            created_by: actor.sub,
            updated_at: occurredAt,
            updated_by: actor.sub,
            value,
            data_key_id: dataKeyId,
            expires_at: expiresAt ?? null,
          },
        };
      }
      case 'SecretValueUpdated':
      case 'SecretRolledBack':
      case 'SecretRestored':
      case 'SecretDeleted': {
        const valueUpdate = secretEvent.type === 'SecretDeleted' ? undefined : secretEvent.data;
        const patch: RowPatch = {
          stream_id: event.streamId,
          version: event.streamVersion,
          deleted: valueUpdate === undefined,
          updated_at: occurredAt,
          updated_by: actor.sub,
          value: valueUpdate?.value ?? null,
          data_key_id: valueUpdate?.dataKeyId ?? null,
          expires_at: valueUpdate?.expiresAt ?? null,
        };
        return pending?.kind === 'upsert'
          ? { kind: 'upsert', row: { ...pending.row, ...patch } }
          : { kind: 'patch', patch };
      }
      default: {
        const _exhaustive: never = secretEvent;
        return _exhaustive;
      }
    }
  }

  private async apply(changes: ReadonlyMap<string, Change>, context: ProjectionContext): Promise<void> {
    const upserts: SecretViewRow[] = [];
    const patches: RowPatch[] = [];
    for (const change of changes.values()) {
      if (change.kind === 'upsert') upserts.push(change.row);
      else patches.push(change.patch);
    }
    if (upserts.length > 0) {
      await context.execute(
        SQL.upsert,
        [
          column(upserts, 'stream_id'),
          column(upserts, 'id'),
          column(upserts, 'organization_id'),
          column(upserts, 'customer_id'),
          column(upserts, 'key'),
          column(upserts, 'version'),
          column(upserts, 'deleted'),
          column(upserts, 'created_at'),
          column(upserts, 'created_by'),
          column(upserts, 'updated_at'),
          column(upserts, 'updated_by'),
          column(upserts, 'value'),
          column(upserts, 'data_key_id'),
          column(upserts, 'expires_at'),
        ],
        PREPARED,
      );
    }
    if (patches.length > 0) {
      await context.execute(
        SQL.patch,
        [
          column(patches, 'stream_id'),
          column(patches, 'version'),
          column(patches, 'deleted'),
          column(patches, 'updated_at'),
          column(patches, 'updated_by'),
          column(patches, 'value'),
          column(patches, 'data_key_id'),
          column(patches, 'expires_at'),
        ],
        PREPARED,
      );
    }
  }
}
