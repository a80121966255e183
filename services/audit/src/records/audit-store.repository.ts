import { PostgresPool, type QueryOptions, isUnavailable } from '@platform/postgres';
import { type Client, type PoolClient } from 'pg';
import { AuditError, AuditErrorCode } from '../audit.error';
import { ChainAudit, type ChainVerification, type CheckpointState } from '../checkpoints/chain-audit';
import { type AuditEvent, type AuditRecord, type AuditRecordContent } from './audit-record';
import { GENESIS_HASH, linkRecord } from './hash-chain';
import { isoInstant } from './iso-instant';

/** One message read from SECRETS_EVENTS. */
export interface StreamedEvent {
  readonly sequence: number;
  /** When the stream stored the message. */
  readonly recordedAt: Date;
  /** Undefined when the message broke the event contract: it moves the position on and leaves no record. */
  readonly event: AuditEvent | undefined;
}

export type ApplyOutcome =
  | {
      readonly kind: 'applied';
      /** Every stream sequence up to here is in the trail; acknowledge those messages. */
      readonly appliedThrough: number;
      /** The records this call added (events already in the trail are not repeated). */
      readonly records: readonly AuditRecord[];
      readonly lastOccurredAt: Date | undefined;
    }
  | {
      /** Sequences after the applied position are missing from the batch: another instance holds them. */
      readonly kind: 'gap';
      readonly appliedThrough: number;
      readonly missingFrom: number;
      readonly missingTo: number;
    };

/** Held by the one instance that applies SECRETS_EVENTS; lost when its database session ends. */
export interface ApplierLease {
  /** Resolves when the session holding the lease breaks. */
  readonly lost: Promise<void>;
  release(): Promise<void>;
}

export interface AuditRecordFilter {
  readonly organizationId: string;
  /** Exactly this customer's records; undefined = the vendor's and all its customers'. */
  readonly customerOrganizationId?: string;
  /** Records about this key, and access events that resolved it. */
  readonly key?: string;
  /** Records whose actor or requester (requestedBy) has this sub. */
  readonly actorSub?: string;
  /** Records of resolves for this deployment. */
  readonly deploymentId?: string;
  readonly types?: readonly string[];
  readonly from?: Date;
  readonly to?: Date;
  /** Keyset pagination: only records older (lower sequence) than this. */
  readonly beforeSequence?: number;
  readonly limit: number;
}

/** A run of SECRETS_EVENTS sequences deleted from the stream, as the applier found it. */
export interface StreamGap {
  readonly fromSequence: number;
  readonly toSequence: number;
  readonly detectedAt: Date;
  readonly acknowledgedAt?: Date;
  readonly acknowledgedBy?: string;
}

interface StreamGapRow {
  from_sequence: string;
  to_sequence: string;
  detected_at: Date;
  acknowledged_at: Date | null;
  acknowledged_by: string | null;
}

const STREAM_GAP_COLUMNS = 'from_sequence, to_sequence, detected_at, acknowledged_at, acknowledged_by';

function streamGapOf(row: StreamGapRow): StreamGap {
  return {
    fromSequence: Number(row.from_sequence),
    toSequence: Number(row.to_sequence),
    detectedAt: row.detected_at,
    ...(row.acknowledged_at ? { acknowledgedAt: row.acknowledged_at } : {}),
    ...(row.acknowledged_by !== null ? { acknowledgedBy: row.acknowledged_by } : {}),
  };
}

/** The end of one organization's chain, as kept beside its records. */
export interface ChainHeadState {
  readonly organizationId: string;
  readonly lastSequence: number;
  readonly lastHash: string;
  readonly recordCount: number;
}

interface ChainHeadRow {
  organization_id: string;
  last_sequence: string;
  last_hash: string;
  record_count: string;
}

function chainHeadOf(row: ChainHeadRow): ChainHeadState {
  return {
    organizationId: row.organization_id,
    lastSequence: Number(row.last_sequence),
    lastHash: row.last_hash,
    recordCount: Number(row.record_count),
  };
}

/** A row of audit.records as Postgres returns it. */
export interface RecordRow {
  sequence: string;
  event_id: string;
  type: string;
  organization_id: string;
  customer_organization_id: string | null;
  key: string | null;
  version: number;
  actor_sub: string;
  actor_org: string;
  actor_role: string;
  occurred_at: Date;
  recorded_at: Date;
  resolved: AuditRecord['resolved'];
  prev_hash: string;
  hash: string;
  requested_by_sub: string | null;
  requested_by_org: string | null;
  requested_by_role: string | null;
  deployment_id: string | null;
}

const RECORD_COLUMNS = `sequence, event_id, type, organization_id, customer_organization_id, key, version,
  actor_sub, actor_org, actor_role, occurred_at, recorded_at, resolved, prev_hash, hash,
  requested_by_sub, requested_by_org, requested_by_role, deployment_id`;

/** The record a row holds (also what an insider test recomputes a chain from). */
export function recordOf(row: RecordRow): AuditRecord {
  const record: AuditRecord = {
    sequence: Number(row.sequence),
    eventId: row.event_id,
    type: row.type,
    organizationId: row.organization_id,
    customerOrganizationId: row.customer_organization_id,
    key: row.key,
    version: row.version,
    actor: { sub: row.actor_sub, org: row.actor_org, role: row.actor_role },
    occurredAt: row.occurred_at,
    recordedAt: row.recorded_at,
    resolved: row.resolved,
    prevHash: row.prev_hash,
    hash: row.hash,
  };
  if (row.requested_by_sub === null && row.deployment_id === null) return record;
  return {
    ...record,
    ...(row.requested_by_sub === null
      ? {}
      : {
          requestedBy: {
            sub: row.requested_by_sub,
            org: row.requested_by_org ?? '',
            role: row.requested_by_role ?? '',
          },
        }),
    ...(row.deployment_id === null ? {} : { deploymentId: row.deployment_id }),
  };
}

interface ChainHead {
  lastSequence: number;
  lastHash: string;
  recordCount: number;
}

/** The event with its place in the stream, fields copied one by one (a spread costs several times as much). */
function recordContent(event: AuditEvent, sequence: number, recordedAt: Date): AuditRecordContent {
  return {
    eventId: event.eventId,
    type: event.type,
    organizationId: event.organizationId,
    customerOrganizationId: event.customerOrganizationId,
    key: event.key,
    version: event.version,
    actor: event.actor,
    occurredAt: event.occurredAt,
    resolved: event.resolved,
    ...(event.requestedBy === undefined ? {} : { requestedBy: event.requestedBy }),
    ...(event.deploymentId === undefined ? {} : { deploymentId: event.deploymentId }),
    sequence,
    recordedAt,
  };
}

/** Raised inside a batch whose events were partly in the trail already; the batch is redone. */
class KnownEventIds extends Error {}

/** Records read per round trip while verifying a chain. */
const VERIFY_PAGE = 5_000;
/** A checkout waits no longer than this for a free connection before the database counts as unavailable. */
const ACQUIRE_TIMEOUT_MS = 1_000;
/** A statement the applier sends: far above any batch insert, so only a connection that went silent reaches it. */
const STATEMENT_TIMEOUT_MS = 10_000;
/** A request's statement (query, verify page, health check): a caller waits no longer than this on a silent connection. */
const REQUEST_STATEMENT_TIMEOUT_MS = 1_000;

/** A request's statement: its own read timeout, below the applier's. */
const REQUEST: QueryOptions = { timeoutMs: REQUEST_STATEMENT_TIMEOUT_MS };
const HEALTH_CHECK_TIMEOUT_MS = 2_000;

/** Records per insert statement: small enough that linking the next chunk overlaps inserting this one. */
const INSERT_CHUNK = 1_000;

export interface ApplyOptions {
  /**
   * Sequences up to here that are absent from the batch are known to be gone from the stream (deleted messages,
   * or a rebuild reading in order): the position may jump over them.
   */
  readonly skipMissingThrough?: number;
  /**
   * Commit without waiting for the write-ahead log to reach disk (`synchronous_commit = off` for this transaction
   * only). For the rebuild, which acknowledges nothing and ends with `flushDurably`; never for the live applier,
   * which acknowledges messages after the commit.
   */
  readonly deferDurability?: boolean;
}

/** An element needing no escapes inside double quotes (only `"` and `\\` do). */
const QUOTE_FREE = /^[^"\\]*$/;

/**
 * A Postgres array literal of texts, every element quoted (so `NULL` or a comma stays text), null as NULL. Built
 * here in one pass: pg's generic array encoding costs several times as much per element on the apply path.
 */
function textArray(values: readonly (string | null)[]): string {
  let literal = '{';
  for (let i = 0; i < values.length; i++) {
    const value = values[i];
    if (i > 0) literal += ',';
    if (value === null) literal += 'NULL';
    else if (QUOTE_FREE.test(value)) literal += `"${value}"`;
    else literal += `"${value.replace(/["\\]/g, '\\$&')}"`;
  }
  return `${literal}}`;
}

/** A Postgres array literal of integers. */
function integerArray(values: readonly number[]): string {
  return `{${values.join(',')}}`;
}

/** One multi-row insert, every column an array literal; resolves with the rows added (a known event id adds none). */
async function insertRecords(client: PoolClient, records: readonly AuditRecord[]): Promise<number> {
  const n = records.length;
  const texts: (string | null)[][] = Array.from({ length: 17 }, () => new Array<string | null>(n));
  const sequences = new Array<number>(n);
  const versions = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    const r = records[i];
    sequences[i] = r.sequence;
    versions[i] = r.version;
    texts[0][i] = r.eventId;
    texts[1][i] = r.type;
    texts[2][i] = r.organizationId;
    texts[3][i] = r.customerOrganizationId;
    texts[4][i] = r.key;
    texts[5][i] = r.actor.sub;
    texts[6][i] = r.actor.org;
    texts[7][i] = r.actor.role;
    texts[8][i] = isoInstant(r.occurredAt);
    texts[9][i] = isoInstant(r.recordedAt);
    texts[10][i] = r.resolved.length === 0 ? '[]' : JSON.stringify(r.resolved);
    texts[11][i] = r.prevHash;
    texts[12][i] = r.hash;
    texts[13][i] = r.requestedBy?.sub ?? null;
    texts[14][i] = r.requestedBy?.org ?? null;
    texts[15][i] = r.requestedBy?.role ?? null;
    texts[16][i] = r.deploymentId ?? null;
  }
  // Columns in RECORD_COLUMNS order: sequence, the five texts from event id to key, version, the other texts.
  const columns = texts.map(textArray);
  const { rowCount } = await client.query(
    `insert into audit.records (${RECORD_COLUMNS})
     select * from unnest($1::bigint[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[],
       $8::text[], $9::text[], $10::text[], $11::timestamptz[], $12::timestamptz[], $13::jsonb[], $14::text[],
       $15::text[], $16::text[], $17::text[], $18::text[], $19::text[])
     on conflict (event_id) do nothing`,
    [integerArray(sequences), ...columns.slice(0, 5), integerArray(versions), ...columns.slice(5)],
  );
  return rowCount ?? 0;
}

/**
 * The audit trail in Postgres schema `audit`: appends SECRETS_EVENTS in stream order, one transaction per batch,
 * linking each vendor organization's hash chain; queries and verifies it.
 */
export class AuditStore {
  private constructor(private readonly pool: PostgresPool) {}

  static open(databaseUrl: string, options: { poolSize?: number } = {}): AuditStore {
    return new AuditStore(
      new PostgresPool({
        databaseUrl,
        applicationName: 'audit',
        poolSize: options.poolSize ?? 8,
        statementTimeoutMs: STATEMENT_TIMEOUT_MS,
        acquireTimeoutMs: ACQUIRE_TIMEOUT_MS,
      }),
    );
  }

  /**
   * One instance at a time applies events: a shared pull consumer spreads messages across instances one by one,
   * and chains must grow in stream order, so the others stand by. A session-level advisory lock on a dedicated
   * connection elects the applier; if its process or connection dies, Postgres frees the lock for a standby.
   */
  async tryAcquireApplierLease(): Promise<ApplierLease | undefined> {
    let client: Client;
    try {
      client = await this.pool.connectDedicated('audit-applier', { keepAlive: true });
    } catch {
      return undefined; // Postgres is unreachable: no lease now; the caller asks again later.
    }
    let markLost: () => void = () => undefined;
    const lost = new Promise<void>((resolve) => (markLost = resolve));
    client.on('error', () => markLost());
    client.on('end', () => markLost());
    try {
      const { rows } = await client.query<{ acquired: boolean }>(
        `select pg_try_advisory_lock(hashtext('audit.applier')) as acquired`,
      );
      if (rows[0].acquired) {
        return { lost, release: () => client.end().catch(() => undefined) };
      }
    } catch {
      // Postgres is unreachable: no lease now; the caller asks again later.
    }
    await client.end().catch(() => undefined);
    return undefined;
  }

  /**
   * Appends the events after the applied position, in stream order, in one transaction. Every instance takes the
   * position row lock first, so applies are serialized and each chain grows in stream-sequence order whatever
   * instance received which message. An event id already in the trail (a re-publish under another
   * Nats-Msg-Id) adds no record and does not move its chain.
   */
  async apply(events: readonly StreamedEvent[], options: ApplyOptions = {}): Promise<ApplyOutcome> {
    const ordered = [...new Map(events.map((e) => [e.sequence, e])).values()].sort((a, b) => a.sequence - b.sequence);
    try {
      return await this.applyOnce(ordered, options, false);
    } catch (error) {
      // Rare: an event id already in the trail. Redo the batch, looking the known ids up first.
      if (!(error instanceof KnownEventIds)) throw error;
      return this.applyOnce(ordered, options, true);
    }
  }

  /**
   * Makes every transaction committed so far durable: a synchronous commit flushes the write-ahead log up to its
   * own record, which lies after theirs. Ends a run of `apply` calls with `deferDurability`.
   */
  async flushDurably(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('update audit.applied_position set updated_at = now() where id = 1');
    });
  }

  private applyOnce(
    ordered: readonly StreamedEvent[],
    options: ApplyOptions,
    lookUpKnownIds: boolean,
  ): Promise<ApplyOutcome> {
    const skipMissingThrough = options.skipMissingThrough ?? 0;
    return this.transaction(async (client) => {
      if (options.deferDurability) await client.query('set local synchronous_commit = off');
      const position = await client.query<{ stream_sequence: string }>(
        'select stream_sequence from audit.applied_position where id = 1 for update',
      );
      const appliedBefore = Number(position.rows[0].stream_sequence);
      const fresh = ordered.filter((e) => e.sequence > appliedBefore);
      if (fresh.length === 0) {
        return { kind: 'applied', appliedThrough: appliedBefore, records: [], lastOccurredAt: undefined };
      }
      if (fresh[0].sequence > appliedBefore + 1 && fresh[0].sequence - 1 > skipMissingThrough) {
        return {
          kind: 'gap',
          appliedThrough: appliedBefore,
          missingFrom: appliedBefore + 1,
          missingTo: fresh[0].sequence - 1,
        };
      }
      // A run continues over sequences known to be gone (up to skipMissingThrough), never over others.
      let contiguousEnd = 1;
      while (
        contiguousEnd < fresh.length &&
        (fresh[contiguousEnd].sequence === fresh[contiguousEnd - 1].sequence + 1 ||
          fresh[contiguousEnd].sequence - 1 <= skipMissingThrough)
      ) {
        contiguousEnd += 1;
      }
      const contiguous = fresh.slice(0, contiguousEnd);
      const appliedThrough = contiguous[contiguous.length - 1].sequence;
      const records = await this.appendRecords(client, contiguous, lookUpKnownIds);
      let lastOccurredAt: Date | undefined;
      for (let i = contiguous.length - 1; i >= 0 && lastOccurredAt === undefined; i--) {
        lastOccurredAt = contiguous[i].event?.occurredAt;
      }
      await client.query(
        `update audit.applied_position
           set stream_sequence = $1, last_occurred_at = coalesce($2, last_occurred_at), updated_at = now()
         where id = 1`,
        [appliedThrough, lastOccurredAt ?? null],
      );
      return { kind: 'applied', appliedThrough, records, lastOccurredAt };
    });
  }

  private async appendRecords(
    client: PoolClient,
    events: readonly StreamedEvent[],
    lookUpKnownIds: boolean,
  ): Promise<AuditRecord[]> {
    const candidates = events.filter((e): e is StreamedEvent & { event: AuditEvent } => e.event !== undefined);
    if (candidates.length === 0) return [];
    const organizations = [...new Set(candidates.map((e) => e.event.organizationId))].sort();
    const heads = new Map<string, ChainHead>();
    const headRows = await client.query<{
      organization_id: string;
      last_sequence: string;
      last_hash: string;
      record_count: string;
    }>(
      `select organization_id, last_sequence, last_hash, record_count from audit.chain_heads
        where organization_id = any($1::text[]) order by organization_id for update`,
      [organizations],
    );
    for (const row of headRows.rows) {
      heads.set(row.organization_id, {
        lastSequence: Number(row.last_sequence),
        lastHash: row.last_hash,
        recordCount: Number(row.record_count),
      });
    }
    const seen = new Set<string>();
    if (lookUpKnownIds) {
      const known = await client.query<{ event_id: string }>(
        'select event_id from audit.records where event_id = any($1::uuid[])',
        [candidates.map((e) => e.event.eventId)],
      );
      for (const row of known.rows) seen.add(row.event_id);
    }
    // Postgres inserts one chunk while the next is linked; a client runs one statement at a time, so each chunk
    // is sent once the previous one is done.
    const records: AuditRecord[] = [];
    let inserted = 0;
    let inserting: Promise<number> | undefined;
    let chunkStart = 0;
    const sendChunk = async (): Promise<void> => {
      const chunk = records.slice(chunkStart);
      chunkStart = records.length;
      inserted += (await inserting) ?? 0;
      inserting = insertRecords(client, chunk);
      inserting.catch(() => undefined); // awaited with the next chunk; a failure meanwhile is not unhandled
    };
    for (const { sequence, recordedAt, event } of candidates) {
      if (seen.has(event.eventId)) continue;
      seen.add(event.eventId);
      const head = heads.get(event.organizationId);
      const record = linkRecord(head?.lastHash ?? GENESIS_HASH, recordContent(event, sequence, recordedAt));
      heads.set(event.organizationId, {
        lastSequence: sequence,
        lastHash: record.hash,
        recordCount: (head?.recordCount ?? 0) + 1,
      });
      records.push(record);
      if (records.length - chunkStart === INSERT_CHUNK) await sendChunk();
    }
    if (records.length > chunkStart) await sendChunk();
    inserted += (await inserting) ?? 0;
    if (records.length === 0) return records;
    // A skipped insert would leave a hole in the chain just computed: redo the batch knowing the ids.
    if (inserted !== records.length) throw new KnownEventIds();
    const changed = new Set(records.map((r) => r.organizationId));
    const changedHeads = [...heads].filter(([organizationId]) => changed.has(organizationId));
    await client.query(
      `insert into audit.chain_heads (organization_id, last_sequence, last_hash, record_count)
       select * from unnest($1::text[], $2::bigint[], $3::text[], $4::bigint[])
       on conflict (organization_id) do update
         set last_sequence = excluded.last_sequence, last_hash = excluded.last_hash, record_count = excluded.record_count`,
      [
        changedHeads.map(([organizationId]) => organizationId),
        changedHeads.map(([, head]) => head.lastSequence),
        changedHeads.map(([, head]) => head.lastHash),
        changedHeads.map(([, head]) => head.recordCount),
      ],
    );
    return records;
  }

  /** Newest first. */
  async query(filter: AuditRecordFilter): Promise<AuditRecord[]> {
    const conditions = ['organization_id = $1'];
    const params: unknown[] = [filter.organizationId];
    const bind = (value: unknown): string => {
      params.push(value);
      return `$${params.length}`;
    };
    if (filter.customerOrganizationId !== undefined) {
      conditions.push(`customer_organization_id = ${bind(filter.customerOrganizationId)}`);
    }
    if (filter.key !== undefined) {
      const key = bind(filter.key);
      conditions.push(
        `(key = ${key} or (resolved <> '[]' and resolved @> jsonb_build_array(jsonb_build_object('key', ${key}::text))))`,
      );
    }
    if (filter.actorSub !== undefined) {
      const sub = bind(filter.actorSub);
      conditions.push(`(actor_sub = ${sub} or requested_by_sub = ${sub})`);
    }
    if (filter.deploymentId !== undefined) conditions.push(`deployment_id = ${bind(filter.deploymentId)}`);
    if (filter.types !== undefined && filter.types.length > 0)
      conditions.push(`type = any(${bind(filter.types)}::text[])`);
    if (filter.from !== undefined) conditions.push(`occurred_at >= ${bind(filter.from.toISOString())}`);
    if (filter.to !== undefined) conditions.push(`occurred_at < ${bind(filter.to.toISOString())}`);
    if (filter.beforeSequence !== undefined) conditions.push(`sequence < ${bind(filter.beforeSequence)}`);
    const rows = await this.run(() =>
      this.pool.query<RecordRow>(
        `select ${RECORD_COLUMNS} from audit.records where ${conditions.join(' and ')}
         order by sequence desc limit ${bind(filter.limit)}`,
        params,
        REQUEST,
      ),
    );
    return rows.map(recordOf);
  }

  /**
   * Recomputes one vendor organization's chain from its first record, against its chain head and the latest signed
   * checkpoint (ARCHITECTURE.md §10): edits, recomputation, deletions and truncation each get their reason.
   */
  async verifyChain(
    organizationId: string,
    checkpoint: CheckpointState = { kind: 'none' },
  ): Promise<ChainVerification> {
    const audit = new ChainAudit(checkpoint);
    for await (const page of this.recordPages(organizationId, 0)) {
      for (const record of page) audit.check(record);
      // Past the first broken link only the counts still matter, and they need the whole walk.
      if (audit.linksBroken && checkpoint.kind !== 'valid') break;
    }
    audit.checkHead(await this.chainHead(organizationId));
    return audit.result();
  }

  /** An organization's records after `afterSequence`, in sequence order, a page per round trip. */
  async *recordPages(organizationId: string, afterSequence: number): AsyncGenerator<AuditRecord[]> {
    let after = afterSequence;
    for (;;) {
      const rows = await this.run(() =>
        this.pool.query<RecordRow>(
          `select ${RECORD_COLUMNS} from audit.records where organization_id = $1 and sequence > $2
           order by sequence limit $3`,
          [organizationId, after, VERIFY_PAGE],
          REQUEST,
        ),
      );
      if (rows.length > 0) yield rows.map(recordOf);
      if (rows.length < VERIFY_PAGE) return;
      after = Number(rows[rows.length - 1].sequence);
    }
  }

  /** The record at one stream sequence of an organization's chain. */
  async recordAt(organizationId: string, sequence: number): Promise<AuditRecord | undefined> {
    const rows = await this.run(() =>
      this.pool.query<RecordRow>(
        `select ${RECORD_COLUMNS} from audit.records where organization_id = $1 and sequence = $2`,
        [organizationId, sequence],
        REQUEST,
      ),
    );
    return rows[0] && recordOf(rows[0]);
  }

  /** The end of an organization's chain as the applier keeps it; undefined when it has no record. */
  async chainHead(organizationId: string): Promise<ChainHeadState | undefined> {
    const rows = await this.run(() =>
      this.pool.query<ChainHeadRow>(
        'select organization_id, last_sequence, last_hash, record_count from audit.chain_heads where organization_id = $1',
        [organizationId],
        REQUEST,
      ),
    );
    return rows[0] && chainHeadOf(rows[0]);
  }

  /** Every organization's chain head, for the checkpoint signer. */
  async chainHeads(): Promise<ChainHeadState[]> {
    const rows = await this.run(() =>
      this.pool.query<ChainHeadRow>(
        'select organization_id, last_sequence, last_hash, record_count from audit.chain_heads order by organization_id',
      ),
    );
    return rows.map(chainHeadOf);
  }

  /**
   * Records a run of sequences deleted from SECRETS_EVENTS right after the applied position (once; detecting it again
   * changes nothing) and says whether ops have acknowledged it.
   */
  async recordStreamGap(fromSequence: number, toSequence: number): Promise<StreamGap> {
    const rows = await this.run(() =>
      this.pool.query<StreamGapRow>(
        `with added as (
           insert into audit.stream_gaps (from_sequence, to_sequence) values ($1, $2)
           on conflict (from_sequence) do nothing
           returning ${STREAM_GAP_COLUMNS}
         )
         select ${STREAM_GAP_COLUMNS} from added
         union all
         select ${STREAM_GAP_COLUMNS} from audit.stream_gaps where from_sequence = $1`,
        [fromSequence, toSequence],
      ),
    );
    return streamGapOf(rows[0]);
  }

  /** Records a gap that was passed over deliberately (a rebuild reads what the stream holds), as acknowledged. */
  async recordPassedStreamGap(fromSequence: number, toSequence: number, by: string): Promise<void> {
    await this.run(() =>
      this.pool.query(
        `insert into audit.stream_gaps (from_sequence, to_sequence, acknowledged_at, acknowledged_by)
         values ($1, $2, now(), $3)
         on conflict (from_sequence) do update
           set to_sequence = greatest(audit.stream_gaps.to_sequence, excluded.to_sequence),
               acknowledged_at = coalesce(audit.stream_gaps.acknowledged_at, excluded.acknowledged_at),
               acknowledged_by = coalesce(audit.stream_gaps.acknowledged_by, excluded.acknowledged_by)`,
        [fromSequence, toSequence, by],
      ),
    );
  }

  /** Gaps the applier waits on: not acknowledged and not yet passed (a rebuild passes over them). */
  async openStreamGaps(): Promise<StreamGap[]> {
    const rows = await this.run(() =>
      this.pool.query<StreamGapRow>(
        `select ${STREAM_GAP_COLUMNS} from audit.stream_gaps
          where acknowledged_at is null
            and to_sequence > (select stream_sequence from audit.applied_position where id = 1)
          order by from_sequence`,
        [],
        REQUEST,
      ),
    );
    return rows.map(streamGapOf);
  }

  /**
   * Ops accept that the sequences `from..to` are gone for good: the applier moves past them. Only a gap the applier
   * recorded, named exactly, can be acknowledged.
   */
  async acknowledgeStreamGap(fromSequence: number, toSequence: number, by: string): Promise<StreamGap> {
    const rows = await this.run(() =>
      this.pool.query<StreamGapRow>(
        `update audit.stream_gaps set acknowledged_at = coalesce(acknowledged_at, now()),
           acknowledged_by = coalesce(acknowledged_by, $3)
          where from_sequence = $1 and to_sequence = $2
          returning ${STREAM_GAP_COLUMNS}`,
        [fromSequence, toSequence, by],
      ),
    );
    if (rows.length === 0) {
      throw new AuditError(
        AuditErrorCode.GAP_NOT_FOUND,
        `no gap ${fromSequence}-${toSequence} was recorded in SECRETS_EVENTS; list them with \`secrets audit gaps\``,
        { fromSequence, toSequence },
      );
    }
    return streamGapOf(rows[0]);
  }

  /** The last stream sequence in the trail. */
  async appliedPosition(): Promise<number> {
    const rows = await this.run(() =>
      this.pool.query<{ stream_sequence: string }>('select stream_sequence from audit.applied_position where id = 1'),
    );
    return Number(rows[0]?.stream_sequence ?? 0);
  }

  /** Empties the trail for a rebuild from stream sequence 1. */
  async reset(): Promise<void> {
    await this.transaction(async (client) => {
      await client.query('select stream_sequence from audit.applied_position where id = 1 for update');
      await client.query('truncate audit.records, audit.chain_heads');
      await client.query(
        'update audit.applied_position set stream_sequence = 0, last_occurred_at = null, updated_at = now() where id = 1',
      );
    });
  }

  isHealthy(): Promise<boolean> {
    return this.pool.isHealthy(HEALTH_CHECK_TIMEOUT_MS);
  }

  async close(): Promise<void> {
    await this.pool.close();
  }

  /**
   * A failure to get a connection is STORE_UNAVAILABLE; one inside `work` stays as it is (the applier logs and retries
   * it, and a terminated session says so itself).
   */
  private async transaction<T>(work: (client: PoolClient) => Promise<T>): Promise<T> {
    let working = false;
    try {
      return await this.pool.transaction((client) => {
        working = true;
        return work(client);
      });
    } catch (error) {
      throw working ? error : storeError(error);
    }
  }

  private async run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw storeError(error);
    }
  }
}

/** Connection failures become STORE_UNAVAILABLE (retryable); anything else stays as it is. */
function storeError(error: unknown): unknown {
  if (!isUnavailable(error)) return error;
  return new AuditError(AuditErrorCode.STORE_UNAVAILABLE, 'the audit database is unavailable');
}
