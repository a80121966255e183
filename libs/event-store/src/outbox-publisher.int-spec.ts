import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@platform/testing';
import { Client } from 'pg';
import { EventStoreErrorCode } from './event-store.error';
import { anEvent, metadataOf, someEvents } from './testing/event-store.fixtures';
import type { RecordedEvent } from './events';
import { OutboxPublisher, type OutboxPublisherOptions } from './outbox-publisher';
import { PostgresEventStore } from './postgres-event-store';

/** What a broker that dedupes by message id would have received. */
class RecordingBroker {
  readonly deliveries: RecordedEvent[] = [];

  get deliveredIds(): string[] {
    return this.deliveries.map((event) => event.eventId);
  }

  /** First delivery of each id, in delivery order: what consumers see after `Nats-Msg-Id` dedupe. */
  get dedupedIds(): string[] {
    return [...new Set(this.deliveredIds)];
  }
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

describe('OutboxPublisher', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;
  let schema: string;
  const running: OutboxPublisher[] = [];
  const clients: Client[] = [];
  let schemaCount = 0;

  beforeAll(async () => {
    database = await createTestDatabase();
  });

  beforeEach(async () => {
    schema = `outbox_${++schemaCount}`;
    store = await PostgresEventStore.open({ databaseUrl: database.url, schema });
  });

  afterEach(async () => {
    await Promise.all(running.splice(0).map((publisher) => publisher.stop()));
    await Promise.all(clients.splice(0).map((client) => client.end()));
    await store.close();
  });

  afterAll(async () => {
    await database?.drop();
  });

  function publisherOf(
    broker: RecordingBroker,
    options: Partial<OutboxPublisherOptions> & { publish?: OutboxPublisherOptions['publish'] } = {},
  ): OutboxPublisher {
    const publisher = new OutboxPublisher(store, {
      name: 'secrets-events',
      batchSize: 50,
      pollIntervalMs: 20,
      lockRetryMs: 20,
      retryDelayMs: 20,
      publish: async (event) => {
        broker.deliveries.push(event);
      },
      ...options,
    });
    running.push(publisher);
    return publisher;
  }

  async function sqlClient(): Promise<Client> {
    const client = new Client({ connectionString: database.url });
    await client.connect();
    clients.push(client);
    return client;
  }

  /** Every stored event id in the order the outbox must publish them: by transaction, then position. */
  async function idsInTransactionOrder(): Promise<string[]> {
    const rows = await store.query<{ event_id: string }>(
      `select event_id from "${schema}".events order by transaction_id, position`,
    );
    return rows.map((row) => row.event_id);
  }

  function insertEventSql(streamId: string): { text: string; values: unknown[] } {
    return {
      text: `insert into "${schema}".events (stream_id, stream_version, event_id, type, data, metadata)
             values ($1, 1, $2, 'ThingHappened', '{}', $3) returning event_id`,
      values: [streamId, randomUUID(), JSON.stringify(metadataOf())],
    };
  }

  async function outboxLockHolderPid(): Promise<number | undefined> {
    const rows = await store.query<{ pid: number }>(
      `select pid from pg_locks where locktype = 'advisory' and granted
       and database = (select oid from pg_database where datname = current_database())`,
    );
    return rows[0]?.pid;
  }

  async function terminateBackend(pid: number): Promise<void> {
    await store.query('select pg_terminate_backend($1)', [pid]);
    while ((await store.query('select 1 from pg_stat_activity where pid = $1', [pid])).length > 0) await sleep(5);
  }

  it('with eventTypes publishes only those, in order, and moves its checkpoint past the others', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker, { eventTypes: ['ThingRenamed'], pipelined: true });
    await publisher.start();
    const appended = await store.appendToStream(
      'thing:mixed',
      [
        anEvent('ThingHappened'),
        anEvent('ThingRenamed', { n: 1 }),
        anEvent('ThingHappened'),
        anEvent('ThingRenamed', { n: 2 }),
      ],
      { expectedVersion: 'no_stream' },
    );
    const skippedLast = await store.appendToStream('thing:other', someEvents(3), { expectedVersion: 'no_stream' });
    await publisher.drain();

    expect(broker.deliveries.map((event) => [event.type, event.data])).toEqual([
      ['ThingRenamed', { n: 1 }],
      ['ThingRenamed', { n: 2 }],
    ]);
    expect(broker.deliveries[0].metadata).toEqual(appended.events[1].metadata);
    const [checkpoint] = await store.query<{ last_position: string }>(
      `select last_position from "${schema}".outbox_checkpoints where name = 'secrets-events'`,
    );
    expect(BigInt(checkpoint.last_position)).toBe(skippedLast.lastEventGlobalPosition);
  });

  it('publishes every event once, in transaction order, with its id, data and position', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker);
    await publisher.start();

    await Promise.all(
      Array.from({ length: 12 }, (_, n) =>
        store.appendToStream(`thing:${n}`, someEvents(5), { expectedVersion: 'no_stream' }),
      ),
    );
    await publisher.drain();

    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
    expect(broker.deliveredIds).toHaveLength(60);
    const [first] = await store.readAll({ after: 0n, limit: 1 });
    expect(broker.deliveries.find((event) => event.eventId === first.eventId)).toEqual(first);
  });

  it('publishes events appended before it started, and resolves drain at once when there is nothing', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker);
    await publisher.start();
    await publisher.drain();
    expect(broker.deliveries).toEqual([]);

    await publisher.stop();
    await store.appendToStream('thing:late', someEvents(3), { expectedVersion: 'no_stream' });
    await publisher.start();
    await publisher.drain();

    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
  });

  it('waits for a transaction that holds an earlier position and commits last, then publishes both', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker);
    await publisher.start();
    const slow = await sqlClient();

    await slow.query('begin');
    const { rows } = await slow.query<{ event_id: string }>(insertEventSql('thing:slow'));
    const fast = await store.appendToStream('thing:fast', [anEvent()], { expectedVersion: 'no_stream' });
    await sleep(200);
    expect(broker.deliveries).toEqual([]);
    await slow.query('commit');
    await publisher.drain();

    expect(broker.deliveredIds).toEqual([rows[0].event_id, fast.events[0].eventId]);
  });

  it('publishes in transaction order even when that is not position order', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker);
    await publisher.start();
    const older = await sqlClient();

    await older.query('begin');
    await older.query('select pg_current_xact_id()');
    const younger = await store.appendToStream('thing:younger', [anEvent()], { expectedVersion: 'no_stream' });
    const { rows } = await older.query<{ event_id: string }>(insertEventSql('thing:older'));
    await older.query('commit');
    await publisher.drain();

    const [olderEvent] = await store.query<{ position: string }>(
      `select position from "${schema}".events where event_id = $1`,
      [rows[0].event_id],
    );
    expect(BigInt(olderEvent.position)).toBeGreaterThan(younger.lastEventGlobalPosition);
    expect(broker.deliveredIds).toEqual([rows[0].event_id, younger.events[0].eventId]);
  });

  it('retries a failed publish from the failed event without duplicates', async () => {
    const broker = new RecordingBroker();
    let attempts = 0;
    const publisher = publisherOf(broker, {
      publish: async (event) => {
        if (++attempts % 7 === 0) throw new Error('no PubAck');
        broker.deliveries.push(event);
      },
    });
    await store.appendToStream('thing:a', someEvents(30), { expectedVersion: 'no_stream' });

    await publisher.start();
    await publisher.drain();

    expect(attempts).toBeGreaterThan(30);
    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
  });

  it('after being killed mid-batch, a new publisher republishes the unacknowledged rest: exactly once after dedupe', async () => {
    const broker = new RecordingBroker();
    await store.appendToStream('thing:a', someEvents(40), { expectedVersion: 'no_stream' });
    await store.appendToStream('thing:b', someEvents(40), { expectedVersion: 'no_stream' });
    let killed = false;
    const doomed = publisherOf(broker, {
      publish: async (event) => {
        if (killed) throw new Error('process is gone');
        broker.deliveries.push(event);
        if (broker.deliveries.length === 17) {
          killed = true;
          // The process dies after the broker acked, before any checkpoint: its session goes with it.
          await terminateBackend((await outboxLockHolderPid())!);
          throw new Error('killed');
        }
      },
    });
    await doomed.start();
    while (!killed) await sleep(5);
    await doomed.stop();

    const successor = publisherOf(broker);
    await successor.start();
    await successor.drain();

    const expected = await idsInTransactionOrder();
    expect(broker.deliveries.length).toBeGreaterThan(expected.length);
    expect(new Set(broker.deliveredIds.slice(0, 17))).toEqual(new Set(broker.deliveredIds.slice(17, 34)));
    expect(broker.dedupedIds).toEqual(expected);
  });

  it('is woken by commits, not by its poll: directly in its own process, by NOTIFY from another one', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker, { pollIntervalMs: 600_000 });
    await publisher.start();
    while ((await outboxLockHolderPid()) === undefined) await sleep(5);
    const delivered = async (count: number) => {
      // Far below the poll interval: only a wake-up can deliver in time.
      for (const deadline = Date.now() + 20_000; broker.deliveries.length < count && Date.now() < deadline;)
        await sleep(5);
      return broker.deliveries.length;
    };

    await store.appendToStream('thing:local', someEvents(2), { expectedVersion: 'no_stream' });
    expect(await delivered(2)).toBe(2);

    const otherInstance = await PostgresEventStore.open({ databaseUrl: database.url, schema });
    try {
      await otherInstance.appendToStream('thing:remote', someEvents(3), { expectedVersion: 'no_stream' });
      expect(await delivered(5)).toBe(5);
    } finally {
      await otherInstance.close();
    }
    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
  });

  it('with wakeOnAppend false, still publishes every append, local and remote, at its poll', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker, { wakeOnAppend: false, pollIntervalMs: 100 });
    await publisher.start();
    await store.appendToStream('thing:quiet-local', someEvents(2), { expectedVersion: 'no_stream' });
    const otherInstance = await PostgresEventStore.open({ databaseUrl: database.url, schema });
    try {
      await otherInstance.appendToStream('thing:quiet-remote', someEvents(3), { expectedVersion: 'no_stream' });
    } finally {
      await otherInstance.close();
    }
    await publisher.drain();
    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
  });

  it('publishes events held back by an unrelated open transaction as soon as it ends, not at the next idle poll', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker, { pollIntervalMs: 600_000 });
    await publisher.start();
    while ((await outboxLockHolderPid()) === undefined) await sleep(5);
    // Any transaction with an id holds back pg_snapshot_xmin, even one that never touches the events table.
    const unrelated = await sqlClient();
    await unrelated.query('begin');
    await unrelated.query('select pg_current_xact_id()');
    const appended = await store.appendToStream('thing:held', someEvents(1), { expectedVersion: 'no_stream' });
    await sleep(100);
    expect(broker.deliveries).toEqual([]);
    await unrelated.query('commit');
    // Far below the idle poll: only the held-back re-check can deliver in time.
    for (const deadline = Date.now() + 20_000; broker.deliveries.length < 1 && Date.now() < deadline;) await sleep(5);
    expect(broker.deliveredIds).toEqual([appended.events[0].eventId]);
  });

  it('lets only one of two instances publish, and the other take over when it stops', async () => {
    const brokers = [new RecordingBroker(), new RecordingBroker()];
    const publishers = brokers.map((broker) => publisherOf(broker));
    await Promise.all(publishers.map((publisher) => publisher.start()));

    for (let n = 0; n < 10; n++)
      await store.appendToStream(`thing:${n}`, someEvents(2), { expectedVersion: 'no_stream' });
    await publishers[0].drain();
    const active = brokers[0].deliveries.length > 0 ? 0 : 1;
    const standby = 1 - active;
    expect(brokers[standby].deliveries).toEqual([]);
    expect(brokers[active].deliveredIds).toEqual(await idsInTransactionOrder());

    await publishers[active].stop();
    await store.appendToStream('thing:after-failover', someEvents(5), { expectedVersion: 'no_stream' });
    await publishers[standby].drain();

    expect([...brokers[active].deliveredIds, ...brokers[standby].deliveredIds]).toEqual(await idsInTransactionOrder());
    expect(brokers[standby].deliveries).toHaveLength(5);
  });

  it('reconnects after losing its database session and carries on from the checkpoint', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker);
    await publisher.start();
    await store.appendToStream('thing:a', someEvents(3), { expectedVersion: 'no_stream' });
    await publisher.drain();

    await terminateBackend((await outboxLockHolderPid())!);
    await store.appendToStream('thing:b', someEvents(3), { expectedVersion: 'no_stream' });
    await publisher.drain();

    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
    expect(await outboxLockHolderPid()).toBeDefined();
  });

  it('tells a waiter in its own process that an event is published only once the broker acknowledged it', async () => {
    const broker = new RecordingBroker();
    let acknowledge!: () => void;
    const acknowledged = new Promise<void>((resolve) => (acknowledge = resolve));
    const publisher = publisherOf(broker, {
      pollIntervalMs: 600_000,
      publishedPollMs: 600_000,
      publish: async (event) => {
        await acknowledged;
        broker.deliveries.push(event);
      },
    });
    await publisher.start();
    const [event] = (await store.appendToStream('thing:a', someEvents(1), { expectedVersion: 'no_stream' })).events;

    let published: boolean | undefined;
    const waiting = publisher.waitUntilPublished(event, 20_000).then((result) => (published = result));
    await sleep(100);
    expect(published).toBeUndefined();
    acknowledge();
    expect(await waiting).toBe(true);
    expect(broker.deliveredIds).toEqual([event.eventId]);
    // Already published: answered without waiting.
    await expect(publisher.waitUntilPublished(event, 1)).resolves.toBe(true);
  });

  it("tells another instance's waiters by NOTIFY after each checkpoint, and by reading the checkpoint if none comes", async () => {
    const broker = new RecordingBroker();
    const active = publisherOf(broker, { pollIntervalMs: 600_000 });
    await active.start();
    while ((await outboxLockHolderPid()) === undefined) await sleep(5);
    const otherProcess = await PostgresEventStore.open({ databaseUrl: database.url, schema });
    const standby = new OutboxPublisher(otherProcess, {
      name: 'secrets-events',
      publish: () => Promise.reject(new Error('the standby must not publish')),
      // Far above the test's timing: only the NOTIFY can settle these waiters in time.
      publishedPollMs: 600_000,
    });
    try {
      await standby.start();
      // The standby LISTENs once its connection is up; a wait registered before could only be settled by the poll.
      while (
        (await store.query(`select 1 from pg_stat_activity where application_name = 'outbox:secrets-events'`)).length <
        2
      )
        await sleep(5);
      await sleep(50);
      for (let n = 0; n < 5; n++) {
        const appended = await otherProcess.appendToStream(`thing:${n}`, someEvents(2), {
          expectedVersion: 'no_stream',
        });
        const last = appended.events[1];
        const started = Date.now();
        expect(await standby.waitUntilPublished(last, 10_000)).toBe(true);
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(broker.deliveredIds).toContain(last.eventId);
      }
    } finally {
      await standby.stop();
      await otherProcess.close();
    }

    // Published before this instance listened: no NOTIFY will ever come, the checkpoint read settles it.
    const appended = await store.appendToStream('thing:early', someEvents(1), { expectedVersion: 'no_stream' });
    await active.drain();
    const lateStore = await PostgresEventStore.open({ databaseUrl: database.url, schema });
    const late = new OutboxPublisher(lateStore, {
      name: 'secrets-events',
      publish: () => Promise.reject(new Error('the standby must not publish')),
      publishedPollMs: 30,
    });
    try {
      await late.start();
      await expect(late.waitUntilPublished(appended.events[0], 10_000)).resolves.toBe(true);
    } finally {
      await late.stop();
      await lateStore.close();
    }
  });

  it('answers false after the timeout while the broker refuses, and true once it accepts again', async () => {
    const broker = new RecordingBroker();
    let brokerDown = true;
    const publisher = publisherOf(broker, {
      publish: async (event) => {
        if (brokerDown) throw new Error('no responders');
        broker.deliveries.push(event);
      },
    });
    await publisher.start();
    const [event] = (await store.appendToStream('thing:a', someEvents(1), { expectedVersion: 'no_stream' })).events;

    const started = Date.now();
    expect(await publisher.waitUntilPublished(event, 300)).toBe(false);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    brokerDown = false;
    expect(await publisher.waitUntilPublished(event, 20_000)).toBe(true);
    expect(broker.deliveredIds).toEqual([event.eventId]);
  });

  it('answers false to its waiters when it stops', async () => {
    const broker = new RecordingBroker();
    const publisher = publisherOf(broker, {
      publish: () => Promise.reject(new Error('broker down')),
    });
    await publisher.start();
    const [event] = (await store.appendToStream('thing:a', someEvents(1), { expectedVersion: 'no_stream' })).events;
    const waiting = publisher.waitUntilPublished(event, 60_000);
    await publisher.stop();
    await expect(waiting).resolves.toBe(false);
    await expect(publisher.waitUntilPublished(event, 60_000)).resolves.toBe(false);
  });

  /** A broker that stores an event only right after the one named as its predecessor (Nats-Expected-Last-Msg-Id). */
  function orderCheckingBroker(broker: RecordingBroker, refuseOnce: Set<number>) {
    let inFlight = 0;
    let mostInFlight = 0;
    const publish = async (event: RecordedEvent, previous?: RecordedEvent): Promise<void> => {
      inFlight++;
      mostInFlight = Math.max(mostInFlight, inFlight);
      try {
        await sleep(2);
        if (broker.dedupedIds.includes(event.eventId)) return;
        const data = event.data as { n: number };
        if (refuseOnce.delete(data.n)) throw new Error('no PubAck in time');
        if (previous && broker.deliveredIds.at(-1) !== previous.eventId) throw new Error('wrong last msg ID');
        broker.deliveries.push(event);
      } finally {
        inFlight--;
      }
    };
    return { publish, mostInFlight: () => mostInFlight };
  }

  it('pipelined: sends a batch without waiting for each acknowledgement, in order', async () => {
    const broker = new RecordingBroker();
    const ordered = orderCheckingBroker(broker, new Set());
    const publisher = publisherOf(broker, { pipelined: true, publish: ordered.publish });
    await store.appendToStream('thing:a', someEvents(40), { expectedVersion: 'no_stream' });
    await publisher.start();
    await publisher.drain();

    expect(broker.deliveredIds).toEqual(await idsInTransactionOrder());
    expect(ordered.mostInFlight()).toBeGreaterThan(10);
  });

  it('pipelined: an event refused mid-batch is resent with everything after it, and nothing overtakes it', async () => {
    const broker = new RecordingBroker();
    // Event n=7 gets no PubAck the first time; those sent after it name it as their predecessor and are refused.
    const ordered = orderCheckingBroker(broker, new Set([7]));
    const publisher = publisherOf(broker, { pipelined: true, publish: ordered.publish });
    const appended = await store.appendToStream('thing:a', someEvents(30), { expectedVersion: 'no_stream' });
    await publisher.start();
    expect(await publisher.waitUntilPublished(appended.events[29], 20_000)).toBe(true);

    expect(broker.deliveredIds).toEqual(appended.events.map((event) => event.eventId));
  });

  it('stops after finishing and checkpointing the in-flight event, and releases the lock', async () => {
    const broker = new RecordingBroker();
    let releaseThird!: () => void;
    const thirdStarted = new Promise<void>((started) => {
      const gate = new Promise<void>((resolve) => (releaseThird = resolve));
      publisherOf(broker, {
        publish: async (event) => {
          if (broker.deliveries.length === 2) {
            started();
            await gate;
          }
          broker.deliveries.push(event);
        },
      });
    });
    const publisher = running[running.length - 1];
    const appended = await store.appendToStream('thing:a', someEvents(5), { expectedVersion: 'no_stream' });
    await publisher.start();
    await thirdStarted;

    const stopped = publisher.stop();
    releaseThird();
    await stopped;

    expect(broker.deliveredIds).toEqual(appended.events.slice(0, 3).map((event) => event.eventId));
    const [checkpoint] = await store.query<{ last_position: string }>(
      `select last_position from "${schema}".outbox_checkpoints where name = 'secrets-events'`,
    );
    expect(BigInt(checkpoint.last_position)).toBe(appended.events[2].position);
    expect(await outboxLockHolderPid()).toBeUndefined();
    await expect(publisher.drain()).rejects.toMatchObject({ code: EventStoreErrorCode.PUBLISHER_NOT_RUNNING });
  });
});
