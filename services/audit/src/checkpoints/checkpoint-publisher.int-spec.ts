import { type NatsConnection } from 'nats';
import { type Client } from 'pg';
import pino from 'pino';
import devKey from '../../../../deploy/dev/audit-checkpoint-key.json';
import { type AuditStore } from '../records/audit-store.repository';
import { type AuditTestbed, openAuditTestbed } from '../testing/audit-testbed';
import { type SecretEventJson, secretEvent, streamedEvents } from '../testing/secret-events';
import { CheckpointSigner, CheckpointVerifier } from './checkpoint';
import { CheckpointPublisher } from './checkpoint-publisher';
import { checkpointStreamName, ensureCheckpointStream, latestCheckpoint, publishCheckpoint } from './checkpoint-stream';

jest.setTimeout(60_000);

const signer = CheckpointSigner.fromJwk(devKey);
const verifier = CheckpointVerifier.fromJwks({ keys: [signer.publicKey] });

describe('CheckpointPublisher', () => {
  let testbed: AuditTestbed;
  let store: AuditStore;
  let sql: Client;
  let nats: NatsConnection;
  let prefix: string;
  let nextSequence = 1;
  const lines: Array<{ level: number; msg: string; reason?: string; organizationId?: string }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });

  async function apply(events: readonly SecretEventJson[]): Promise<void> {
    const batch = streamedEvents(events, nextSequence);
    nextSequence += events.length;
    expect((await store.apply(batch)).kind).toBe('applied');
  }

  const publisher = () => new CheckpointPublisher({ nats, subjectPrefix: prefix, store, signer, verifier, logger });
  const latest = async (org: string) => latestCheckpoint(await nats.jetstreamManager(), prefix, org, verifier);
  const messages = async () =>
    (await (await nats.jetstreamManager()).streams.info(checkpointStreamName(prefix))).state.messages;

  beforeEach(async () => {
    testbed = await openAuditTestbed();
    ({ store, sql, nats, prefix } = testbed);
    await ensureCheckpointStream(await nats.jetstreamManager(), prefix, 1);
    lines.length = 0;
    nextSequence = 1;
  });

  afterEach(() => testbed?.close());

  it('signs a trail found in the database (an earlier release) once, then only organizations that changed', async () => {
    await apply([secretEvent({ organizationId: 'acme' }), secretEvent({ organizationId: 'initech' }), secretEvent()]);
    expect(await publisher().publishChanged()).toEqual({ signed: 2, refused: 0, failed: 0 });
    expect(await latest('acme')).toMatchObject({ kind: 'valid', checkpoint: { sequence: 3, count: 2 } });
    expect(await latest('initech')).toMatchObject({ kind: 'valid', checkpoint: { sequence: 2, count: 1 } });

    // A new instance (a restart) reads what the stream holds and signs nothing unchanged.
    const restarted = publisher();
    expect(await restarted.publishChanged()).toEqual({ signed: 0, refused: 0, failed: 0 });
    await apply([secretEvent({ organizationId: 'initech', key: 'NEW' })]);
    expect(await restarted.publishChanged()).toEqual({ signed: 1, refused: 0, failed: 0 });
    expect(await latest('initech')).toMatchObject({ kind: 'valid', checkpoint: { sequence: 4, count: 2 } });
    expect(await messages()).toBe(3);
  });

  it('refuses to sign a chain cut below its latest checkpoint, and one that no longer links to it', async () => {
    await apply([
      secretEvent(),
      secretEvent(),
      secretEvent({ organizationId: 'initech' }),
      secretEvent({ organizationId: 'initech' }),
    ]);
    await publisher().publishChanged();

    await sql.query(`delete from audit.records where organization_id = 'acme' and sequence = 2`);
    await sql.query(`update audit.chain_heads set last_sequence = 1, record_count = 1 where organization_id = 'acme'`);
    await sql.query(`update audit.records set prev_hash = $1 where sequence = 4`, ['f'.repeat(64)]);
    await sql.query(`update audit.chain_heads set record_count = 3 where organization_id = 'initech'`);

    expect(await publisher().publishChanged()).toEqual({ signed: 0, refused: 1, failed: 0 });
    expect(lines.filter((line) => line.level === 50)).toEqual([
      expect.objectContaining({ organizationId: 'acme', reason: 'truncated' }),
    ]);
    // initech's record 4 no longer links to 3 (verify reports that); the signer checks only what extends the
    // checkpoint, and nothing new came: nothing signed, nothing refused. A record after it that does not link is.
    await apply([secretEvent({ organizationId: 'initech', key: 'LATER' })]);
    await sql.query(`update audit.records set prev_hash = $1 where sequence = 5`, ['e'.repeat(64)]);
    expect(await publisher().publishChanged()).toMatchObject({ signed: 0, refused: 2 });
    expect(lines.filter((line) => line.level === 50).map((line) => [line.organizationId, line.reason])).toContainEqual([
      'initech',
      'record_altered',
    ]);
    expect(await messages()).toBe(2);
  });

  it('never lets checkpoints of an organization go backwards: a stale signer is refused by the stream', async () => {
    await apply([secretEvent()]);
    const first = await latest('acme');
    expect(first.kind).toBe('none');
    await publisher().publishChanged();
    const compact = signer.sign({
      organizationId: 'acme',
      sequence: 1,
      hash: 'a'.repeat(64),
      count: 1,
      signedAt: new Date(),
    });
    // A signer that read the stream before the checkpoint above was appended.
    await expect(publishCheckpoint(nats.jetstream(), prefix, 'acme', 7, compact, 0)).rejects.toThrow(
      /wrong last sequence/i,
    );
    expect(await messages()).toBe(1);
  });
});
