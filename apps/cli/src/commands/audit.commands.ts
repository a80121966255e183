import { type ConsumerConfig } from 'nats';
import {
  type AuditRecordJson,
  type QueryAuditResponseJson,
  SECRET_EVENT_TYPES,
  type VerifyAuditChainResponseJson,
} from '@platform/contracts';
import { CliError, EXIT, usage } from '../cli-error';
import { type Command } from '../command';
import { table } from '../output';

/** Keys a resolve row names before it says `+N more` (the full list is in --json). */
const RESOLVED_KEYS_SHOWN = 3;

/**
 * KEY and VERSION cells: a record about one key shows it and its version; a resolve shows each key at the version
 * it released (`DB_PASSWORD@3`), the first few and a count, with `-` for VERSION (the stream's version means
 * nothing to a reader there).
 */
export function keyAndVersionOf(record: AuditRecordJson): [string, string] {
  const key = (record as { key?: string | null }).key;
  const resolved = record.resolved ?? [];
  if (key || resolved.length === 0) return [key ?? '-', record.version ? String(record.version) : '-'];
  const shown = resolved.slice(0, RESOLVED_KEYS_SHOWN).map((x) => `${x.key}@${x.version}`);
  const more = resolved.length - shown.length;
  return [`${shown.join(',')}${more > 0 ? ` +${more} more (${resolved.length} keys)` : ''}`, '-'];
}

export const auditQueryCommand: Command = {
  path: ['audit', 'query'],
  usage:
    'audit query [--key K] [--actor SUB] [--deployment D] [--type T …] [--customer ID] [--from TIME] [--to TIME] [--limit N]',
  summary:
    'Lists audit records, newest first (who did what to which key, never values); --actor also finds reads made for SUB through render.',
  options: {
    key: { type: 'string', description: 'only records about this key' },
    actor: { type: 'string', description: 'only records by this sub, or reads made for it through render' },
    deployment: { type: 'string', description: 'only reads for this deployment' },
    type: { type: 'string', multiple: true, description: `only this event type: ${SECRET_EVENT_TYPES.join(', ')}` },
    customer: { type: 'string', description: "only this customer's records" },
    from: { type: 'string', description: 'records at or after this time (e.g. 2026-11-01T00:00:00Z)' },
    to: { type: 'string', description: 'records before this time' },
    limit: { type: 'string', description: 'at most this many records (default 100)' },
  },
  async run(context) {
    const v = context.values;
    const limit = v.limit === undefined ? 100 : Number(v.limit);
    if (!Number.isInteger(limit) || limit < 1) throw usage('--limit must be a positive integer');
    const known: readonly string[] = SECRET_EVENT_TYPES;
    for (const type of (v.type as string[] | undefined) ?? []) {
      if (!known.includes(type)) throw usage(`--type ${type} is not an event type; use one of ${known.join(', ')}`);
    }
    const filters = {
      ...(v.key ? { key: v.key } : {}),
      ...(v.actor ? { actor: v.actor } : {}),
      ...(v.deployment ? { deploymentId: v.deployment } : {}),
      ...(v.type ? { types: v.type } : {}),
      ...(v.customer ? { customerOrganizationId: v.customer } : {}),
      ...(v.from ? { from: v.from } : {}),
      ...(v.to ? { to: v.to } : {}),
    };
    const client = await context.client();
    const records: AuditRecordJson[] = [];
    let pageToken: string | undefined;
    do {
      const page = await client.request<QueryAuditResponseJson>('audit.v1.query', {
        ...filters,
        pageSize: Math.min(1000, limit - records.length),
        ...(pageToken ? { pageToken } : {}),
      });
      records.push(...(page.records ?? []));
      pageToken = page.nextPageToken;
    } while (pageToken && records.length < limit);
    if (context.output.json) {
      context.output.out(JSON.stringify({ records }));
      return EXIT.OK;
    }
    const rows = records.map((r) => [
      r.occurredAt ?? '',
      r.type ?? '',
      ...keyAndVersionOf(r),
      (r as { customerOrganizationId?: string | null }).customerOrganizationId ?? 'vendor',
      r.actor?.sub ?? '',
      r.requestedBy?.sub ?? '',
      r.deploymentId ?? '',
    ]);
    context.output.out(table(['AT', 'TYPE', 'KEY', 'VERSION', 'SCOPE', 'BY', 'FOR', 'DEPLOYMENT'], rows));
  },
};

/** One line for people: ok with its checkpoint, or the reason, where, and what was found. */
function verdictLine(reply: VerifyAuditChainResponseJson): string {
  const checkpoint = reply.checkpoint
    ? `checkpoint signed ${reply.checkpoint.signedAt} by ${reply.checkpoint.keyId} at sequence ${reply.checkpoint.sequence}`
    : 'no signed checkpoint yet';
  if (reply.ok) return `ok: ${reply.checked} records checked; ${checkpoint}`;
  const where = reply.firstBrokenSequence === undefined ? '' : ` at sequence ${reply.firstBrokenSequence}`;
  return `BROKEN (${reply.reason ?? 'record_altered'})${where}: ${reply.detail ?? 'the chain does not verify'} (${reply.checked} records checked; ${checkpoint})`;
}

export const auditVerifyCommand: Command = {
  path: ['audit', 'verify'],
  usage: 'audit verify',
  summary:
    'Recomputes the audit hash chain of your organization against its latest signed checkpoint; exit 5 if it is broken.',
  details:
    'A broken chain names its reason: record_altered (a record was edited, even with the chain recomputed), ' +
    'records_missing (fewer records than the checkpoint counts), truncated (the chain ends before the checkpoint), ' +
    'checkpoint_invalid (the latest checkpoint does not verify with the pinned keys).',
  async run(context) {
    const reply = await (await context.client()).request<VerifyAuditChainResponseJson>('audit.v1.verify', {});
    context.output.out(context.output.json ? JSON.stringify(reply) : verdictLine(reply));
    return reply.ok ? EXIT.OK : EXIT.REFUSED;
  },
};

/** Ops on the audit database directly (DATABASE_URL), loaded only when used. */
async function streamGapOps() {
  return import('../../../../services/audit/src/ops');
}

/** An ops failure as one line and its exit code (apps/cli/README.md: the exit codes table). */
async function gapOpsFailure(error: unknown): Promise<CliError> {
  const [{ AuditError, AuditErrorCode }, { ConfigError }] = await Promise.all([
    import('../../../../services/audit/src/ops'),
    import('@platform/config'),
  ]);
  const message = error instanceof Error ? error.message : String(error);
  if (error instanceof ConfigError) return new CliError(message, EXIT.USAGE);
  if (error instanceof AuditError) {
    switch (error.code) {
      case AuditErrorCode.INVALID_QUERY:
        return new CliError(message, EXIT.USAGE);
      case AuditErrorCode.GAP_NOT_FOUND:
        return new CliError(message, EXIT.NOT_FOUND);
      case AuditErrorCode.STORE_UNAVAILABLE:
        return new CliError(message, EXIT.UNAVAILABLE);
      default:
        return new CliError(message, EXIT.FAILURE);
    }
  }
  return new CliError(message, EXIT.FAILURE);
}

export const auditGapsCommand: Command = {
  path: ['audit', 'gaps'],
  usage: 'audit gaps',
  summary: 'Ops: lists runs of SECRETS_EVENTS sequences deleted from the stream that stop the audit applier.',
  details: 'Needs DATABASE_URL (the audit database). Exit 5 while a gap is open.',
  async run(context) {
    if (context.args.length !== 0) throw usage('usage: secrets audit gaps');
    const { openStreamGaps, describeGap } = await streamGapOps();
    const gaps = await openStreamGaps(context.env).catch(async (error: unknown) => {
      throw await gapOpsFailure(error);
    });
    context.output.out(
      context.output.json
        ? JSON.stringify({ gaps })
        : gaps.length === 0
          ? 'no open gap in SECRETS_EVENTS'
          : gaps.map(describeGap).join('\n'),
    );
    return gaps.length === 0 ? EXIT.OK : EXIT.REFUSED;
  },
};

export const auditAcknowledgeGapCommand: Command = {
  path: ['audit', 'acknowledge-gap'],
  usage: 'audit acknowledge-gap FROM TO --by WHO',
  summary:
    'Ops: accepts that SECRETS_EVENTS sequences FROM..TO (as `audit gaps` lists them) are gone; the audit applier moves past them.',
  details:
    'Find out first who deleted them and why: the events are lost to the audit trail. Needs DATABASE_URL. The ' +
    'acknowledgement is kept with WHO (a name or a ticket) and the time.',
  options: { by: { type: 'string', description: 'who accepts the gap: a name or a ticket, kept with it' } },
  async run(context) {
    if (context.args.length !== 2) throw usage('usage: secrets audit acknowledge-gap FROM TO --by WHO');
    const { acknowledgeStreamGap, describeGap } = await streamGapOps();
    const by = context.values.by as string | undefined;
    const gap = await acknowledgeStreamGap(context.env, context.args[0], context.args[1], by).catch(
      async (error: unknown) => {
        throw await gapOpsFailure(error);
      },
    );
    context.output.out(context.output.json ? JSON.stringify({ gap }) : describeGap(gap));
    return EXIT.OK;
  },
};

export const auditReplayCommand: Command = {
  path: ['audit', 'replay'],
  usage: 'audit replay --since TIME | --from-seq N [--follow]',
  summary: 'Prints SECRETS_EVENTS as JSON lines from a time or stream sequence (ops; needs NATS access, no token).',
  options: {
    since: { type: 'string', description: 'start at the first event at or after this time' },
    'from-seq': { type: 'string', description: 'start at this stream sequence (1 is the first event)' },
    follow: { type: 'boolean', description: 'keep waiting for new events instead of exiting at the last one' },
  },
  async run(context) {
    const since = context.values.since as string | undefined;
    const fromSeq = context.values['from-seq'] as string | undefined;
    if ((since === undefined) === (fromSeq === undefined))
      throw usage('give exactly one of --since TIME and --from-seq N');
    const { AckPolicy, DeliverPolicy } = await import('nats');
    const config: Partial<ConsumerConfig> = { ack_policy: AckPolicy.None };
    let sinceMs = 0;
    if (since !== undefined) {
      const time = new Date(since);
      if (Number.isNaN(time.getTime())) throw usage('--since must be a date/time such as 2026-11-01T00:00:00Z');
      sinceMs = time.getTime();
      Object.assign(config, { deliver_policy: DeliverPolicy.StartTime, opt_start_time: time.toISOString() });
    } else {
      const seq = Number(fromSeq);
      if (!Number.isInteger(seq) || seq < 1) throw usage('--from-seq must be a positive integer');
      Object.assign(config, { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: seq });
    }
    const follow = context.values.follow === true;
    const client = await context.client();
    const stream = `${client.subject('').replace(/\./g, '_')}SECRETS_EVENTS`;
    let consumer;
    let lastSequence = Infinity;
    try {
      // Without --follow, the replay ends at the stream's last message as of now.
      if (!follow)
        lastSequence = (await (await client.connection.jetstreamManager()).streams.info(stream)).state.last_seq;
      consumer = await client.connection.jetstream().consumers.get(stream, config);
    } catch {
      throw new CliError(`cannot read stream ${stream}`, EXIT.UNAVAILABLE);
    }
    try {
      // The first info creates the ordered consumer, so its count is exact; later cached ones would be stale.
      let done = !follow && (await consumer.info(true)).num_pending === 0;
      const decoder = new TextDecoder();
      while (!done) {
        const messages = await consumer.fetch({ max_messages: 500, expires: follow ? 5000 : 1000 });
        let received = 0;
        for await (const message of messages) {
          if (message.seq > lastSequence) {
            done = true;
            break;
          }
          received++;
          // Some servers (2.9) start a consumer whose start time is past the last message at the first message.
          if (message.info.timestampNanos / 1e6 >= sinceMs) {
            const event = JSON.parse(decoder.decode(message.data)) as Record<string, unknown>;
            context.output.out(JSON.stringify({ sequence: message.seq, subject: message.subject, ...event }));
          }
          if (message.seq === lastSequence) {
            done = true;
            break;
          }
        }
        // A fetch that waited and got nothing means nothing is left to read (messages deleted since the start).
        if (received === 0 && !follow) done = true;
      }
    } finally {
      await consumer.delete().catch(() => undefined);
    }
  },
};
