import { createTestDatabase, eventually, type TestDatabase } from '@platform/testing';
import { EventStoreErrorCode } from './event-store.error';
import { someEvents } from './testing/event-store.fixtures';
import type { RecordedEvent } from './events';
import { type OutboxLogger, OutboxPublisher, rebaseOutboxCheckpoint } from './outbox-publisher';
import { PostgresEventStore } from './postgres-event-store';

/** How far a restore moves the saved transaction ids above the new cluster's (an old cluster's ids were higher). */
const RESTORED_AHEAD_BY = 1_000_000_000n;

describe('OutboxPublisher after a logical restore (checkpoint ahead of the transaction ids)', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let schemaCount = 0;
  const running: OutboxPublisher[] = [];

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  beforeEach(async () => {
    store = await PostgresEventStore.open({ databaseUrl: database.url, schema: `restore_${++schemaCount}` });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((publisher) => publisher.stop()));
    await store.close();
  });

  afterAll(async () => {
    await database?.drop();
  });

  function publisherOf(delivered: RecordedEvent[], errors: string[] = []): OutboxPublisher {
    const logger: OutboxLogger = {
      info: () => undefined,
      warn: () => undefined,
      error: (_o, msg) => errors.push(msg!),
    };
    const publisher = new OutboxPublisher(store, {
      name: 'secrets-events',
      pollIntervalMs: 20,
      lockRetryMs: 20,
      retryDelayMs: 20,
      publishedPollMs: 10,
      logger,
      publish: async (event) => {
        delivered.push(event);
      },
    });
    running.push(publisher);
    return publisher;
  }

  /** The rows a dump taken on a cluster with higher transaction ids brings back: same order, ids far ahead. */
  async function restoreFromAHigherCluster(): Promise<void> {
    const { events, outboxCheckpoints } = store.names;
    await store.query(`update ${events} set transaction_id = (transaction_id::text::numeric + $1)::text::xid8`, [
      RESTORED_AHEAD_BY.toString(),
    ]);
    await store.query(
      `update ${outboxCheckpoints} set last_transaction_id = (last_transaction_id::text::numeric + $1)::text::xid8`,
      [RESTORED_AHEAD_BY.toString()],
    );
  }

  const ids = (events: readonly RecordedEvent[]) => events.map((event) => event.eventId);

  it('refuses to publish, not ready on every instance, and never says a new event is published', async () => {
    const delivered: RecordedEvent[] = [];
    const first = publisherOf(delivered);
    await first.start();
    await store.appendToStream('thing:old', someEvents(3), { expectedVersion: 'no_stream' });
    await first.drain();
    await first.stop();
    await restoreFromAHigherCluster();

    const errors: string[] = [];
    const [holder, standby] = [publisherOf(delivered, errors), publisherOf(delivered, errors)];
    await Promise.all([holder.start(), standby.start()]);
    const appended = await store.appendToStream('thing:new', someEvents(2), { expectedVersion: 'no_stream' });
    const newest = appended.events[1];

    await eventually('both instances refuse', () => holder.checkpointAhead !== undefined && !!standby.checkpointAhead);
    expect(holder.checkpointAhead).toMatchObject({
      checkpoint: { transactionId: expect.stringMatching(/^\d+$/), position: '3' },
    });
    expect(BigInt(holder.checkpointAhead!.checkpoint.transactionId)).toBeGreaterThanOrEqual(
      BigInt(holder.checkpointAhead!.nextTransactionId),
    );
    expect(errors[0]).toMatch(
      /^Outbox secrets-events: its checkpoint \(transaction \d+, position 3\) is ahead of the database's next transaction id \d+, as after a logical restore: new events would never be published\. Run `secrets outbox rebase`/,
    );
    expect([holder.isPublishing, standby.isPublishing]).toEqual([false, false]);
    // Before the fix, the new event (with its lower transaction id) counted as published at once.
    for (const publisher of [holder, standby]) {
      expect(await publisher.waitUntilPublished(newest, 200)).toBe(false);
    }
    await expect(holder.drain()).rejects.toMatchObject({ code: EventStoreErrorCode.CHECKPOINT_AHEAD });
    expect(ids(delivered)).toHaveLength(3);
  });

  it('publishes again once re-based: restored but unpublished events first, then those written since', async () => {
    const delivered: RecordedEvent[] = [];
    const before = publisherOf(delivered);
    await before.start();
    await store.appendToStream('thing:published', someEvents(3), { expectedVersion: 'no_stream' });
    await before.drain();
    await before.stop();
    // In the dump, but never published before it was taken.
    const unpublished = await store.appendToStream('thing:unpublished', someEvents(2), {
      expectedVersion: 'no_stream',
    });
    await restoreFromAHigherCluster();

    const publisher = publisherOf(delivered);
    await publisher.start();
    const written = await store.appendToStream('thing:since', someEvents(2), { expectedVersion: 'no_stream' });
    await eventually('the publisher refuses', () => publisher.checkpointAhead !== undefined);
    const waiting = publisher.waitUntilPublished(written.events[1], 10_000);

    const rebased = await rebaseOutboxCheckpoint(store, { name: 'secrets-events' });
    expect(rebased).toMatchObject({ after: { transactionId: '1', position: '3' }, published: 3, queued: 2 });
    expect(rebased.before.position).toBe('3');

    expect(await waiting).toBe(true);
    await publisher.drain();
    expect(publisher.checkpointAhead).toBeUndefined();
    expect(ids(delivered.slice(3))).toEqual([...ids(unpublished.events), ...ids(written.events)]);
    // Later writes follow as usual.
    const later = await store.appendToStream('thing:later', someEvents(1), { expectedVersion: 'no_stream' });
    expect(await publisher.waitUntilPublished(later.events[0], 10_000)).toBe(true);
    expect(ids(delivered.slice(7))).toEqual(ids(later.events));
  });

  it('refuses to re-base a checkpoint that is not ahead, or while an instance publishes', async () => {
    const publisher = publisherOf([]);
    await publisher.start();
    await store.appendToStream('thing:a', someEvents(1), { expectedVersion: 'no_stream' });
    await publisher.drain();
    await expect(rebaseOutboxCheckpoint(store, { name: 'secrets-events', lockWaitMs: 100 })).rejects.toThrow(
      'Outbox secrets-events is publishing (an instance holds its lock), so its checkpoint is not ahead',
    );
    await publisher.stop();
    await expect(rebaseOutboxCheckpoint(store, { name: 'secrets-events' })).rejects.toThrow(
      "Outbox secrets-events: the checkpoint is not ahead of the database's transaction ids; nothing to re-base",
    );
  });
});
