import { randomUUID } from 'node:crypto';
import { createTestDatabase, type TestDatabase } from '@platform/testing';
import { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
import {
  anEvent,
  metadataOf,
  someEvents,
  streamSummaryMigration,
  streamSummaryProjection,
  streamSummaryProjectionInDatabase,
  streamSummaryProjectionInline,
} from './testing/event-store.fixtures';
import type { ExpectedVersion } from './events';
import type { InlineProjection } from './projection';
import { PostgresEventStore } from './postgres-event-store';

describe('PostgresEventStore', () => {
  let database: TestDatabase;
  let store: PostgresEventStore;

  const openStore = (): Promise<PostgresEventStore> =>
    PostgresEventStore.open({
      databaseUrl: database.url,
      schema: 'store_test',
      projections: [streamSummaryProjection],
      extraMigrations: [streamSummaryMigration],
      poolSize: 12,
    });

  const summaryRows = (): Promise<Record<string, unknown>[]> =>
    store.query('select * from stream_summary order by stream_id');

  beforeAll(async () => {
    database = await createTestDatabase();
    store = await openStore();
  });

  afterAll(async () => {
    await store?.close();
    await database?.drop();
  });

  const streamName = (): string => `thing:${randomUUID()}`;

  describe('append, read and aggregate', () => {
    it('appends events to a new stream and reads them back in stream order', async () => {
      const stream = streamName();
      const appended = await store.appendToStream(
        stream,
        [anEvent('ThingHappened', { n: 1 }), anEvent('ThingRenamed', { name: 'a' })],
        {
          expectedVersion: 'no_stream',
        },
      );

      expect(appended.nextExpectedStreamVersion).toBe(2);
      expect(appended.events.map((event) => event.streamVersion)).toEqual([1, 2]);
      expect(appended.lastEventGlobalPosition).toBe(appended.events[1].position);
      expect(appended.events[0].position < appended.events[1].position).toBe(true);

      const read = await store.readStream(stream);
      expect(read).toEqual({ events: appended.events, currentStreamVersion: 2, streamExists: true });
      expect(read.events[1]).toMatchObject({
        streamId: stream,
        type: 'ThingRenamed',
        data: { name: 'a' },
        metadata: metadataOf(),
        transactionId: appended.events[0].transactionId,
      });
      expect(read.events[1].createdAt).toBeInstanceOf(Date);
      expect(read.events[1].eventId).toMatch(/^[0-9a-f-]{36}$/);
    });

    it('keeps a caller-supplied event id and refuses to append the same id twice', async () => {
      const eventId = randomUUID();
      const first = await store.appendToStream(streamName(), [{ ...anEvent(), eventId }], { expectedVersion: 'any' });
      expect(first.events[0].eventId).toBe(eventId);

      const retry = store.appendToStream(streamName(), [{ ...anEvent(), eventId }], { expectedVersion: 'any' });
      await expect(retry).rejects.toMatchObject({ code: EventStoreErrorCode.DUPLICATE_EVENT });
    });

    it('reads a version range and still reports the current version', async () => {
      const stream = streamName();
      await store.appendToStream(stream, someEvents(5), { expectedVersion: 'no_stream' });

      const read = await store.readStream(stream, { from: 2, to: 3 });

      expect(read.events.map((event) => event.streamVersion)).toEqual([2, 3]);
      expect(read.currentStreamVersion).toBe(5);
      expect((await store.readStream(stream, { from: 9 })).currentStreamVersion).toBe(5);
    });

    it('reads a missing stream as empty', async () => {
      expect(await store.readStream(streamName())).toEqual({
        events: [],
        currentStreamVersion: 0,
        streamExists: false,
      });
    });

    it('reads a stream with the latest event of a type on another stream, in position order', async () => {
      const stream = streamName();
      const marks = streamName();
      await store.appendToStream(marks, [anEvent('Marked', { n: 1 })], { expectedVersion: 'no_stream' });
      await store.appendToStream(stream, [anEvent('ThingHappened', { n: 2 })], { expectedVersion: 'no_stream' });
      await store.appendToStream(marks, [anEvent('Marked', { n: 3 }), anEvent('Other', { n: 4 })], {
        expectedVersion: 1,
      });
      await store.appendToStream(stream, [anEvent('ThingHappened', { n: 5 })], { expectedVersion: 1 });

      const read = await store.readStreamWithLatest(stream, { streamId: marks, type: 'Marked' });

      expect(read.map((event) => [event.streamId, event.type, event.data])).toEqual([
        [stream, 'ThingHappened', { n: 2 }],
        [marks, 'Marked', { n: 3 }],
        [stream, 'ThingHappened', { n: 5 }],
      ]);
      expect(await store.readStreamWithLatest(streamName(), { streamId: streamName(), type: 'Marked' })).toEqual([]);
    });

    it('finds an event by its id', async () => {
      const stream = streamName();
      const { events } = await store.appendToStream(stream, someEvents(2), { expectedVersion: 'no_stream' });

      expect(await store.findEvent(events[1].eventId)).toEqual(events[1]);
      expect(await store.findEvent(randomUUID())).toBeUndefined();
    });

    it('pages through all events in position order', async () => {
      const streams = [streamName(), streamName()];
      const first = await store.appendToStream(streams[0], someEvents(2), { expectedVersion: 'no_stream' });
      await store.appendToStream(streams[1], someEvents(2), { expectedVersion: 'no_stream' });
      const after = first.events[0].position - 1n;

      const page1 = await store.readAll({ after, limit: 3 });
      const page2 = await store.readAll({ after: page1[2].position, limit: 3 });

      expect([...page1, ...page2].slice(0, 4).map((event) => [event.streamId, event.streamVersion])).toEqual([
        [streams[0], 1],
        [streams[0], 2],
        [streams[1], 1],
        [streams[1], 2],
      ]);
    });
  });

  describe('expected version', () => {
    const cases: { expected: ExpectedVersion; existingEvents: number; succeeds: boolean }[] = [
      { expected: 'no_stream', existingEvents: 0, succeeds: true },
      { expected: 'no_stream', existingEvents: 2, succeeds: false },
      { expected: 'stream_exists', existingEvents: 0, succeeds: false },
      { expected: 'stream_exists', existingEvents: 2, succeeds: true },
      { expected: 'any', existingEvents: 0, succeeds: true },
      { expected: 'any', existingEvents: 2, succeeds: true },
      { expected: 0, existingEvents: 0, succeeds: true },
      { expected: 0, existingEvents: 2, succeeds: false },
      { expected: 2, existingEvents: 2, succeeds: true },
      { expected: 1, existingEvents: 2, succeeds: false },
      { expected: 3, existingEvents: 2, succeeds: false },
    ];

    it.each(cases)('$expected on a stream of $existingEvents events: succeeds=$succeeds', async (testCase) => {
      const stream = streamName();
      if (testCase.existingEvents > 0) {
        await store.appendToStream(stream, someEvents(testCase.existingEvents), { expectedVersion: 'no_stream' });
      }

      const append = store.appendToStream(stream, [anEvent()], { expectedVersion: testCase.expected });

      if (testCase.succeeds) {
        await expect(append).resolves.toMatchObject({ nextExpectedStreamVersion: testCase.existingEvents + 1 });
      } else {
        const error = await append.catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({
          code: EventStoreErrorCode.CONCURRENCY,
          streamId: stream,
          expected: testCase.expected,
          actual: testCase.existingEvents,
        });
        expect((await store.readStream(stream)).currentStreamVersion).toBe(testCase.existingEvents);
      }
    });

    it('refuses a negative or fractional expected version', async () => {
      await expect(store.appendToStream(streamName(), [anEvent()], { expectedVersion: -1 })).rejects.toMatchObject({
        code: EventStoreErrorCode.INVALID_ARGUMENT,
      });
      await expect(store.appendToStream(streamName(), [anEvent()], { expectedVersion: 1.5 })).rejects.toBeInstanceOf(
        EventStoreError,
      );
    });

    it('checks the expected version of an empty append without writing', async () => {
      const stream = streamName();
      await store.appendToStream(stream, someEvents(1), { expectedVersion: 'no_stream' });

      await expect(store.appendToStream(stream, [], { expectedVersion: 1 })).resolves.toMatchObject({
        nextExpectedStreamVersion: 1,
        events: [],
      });
      await expect(store.appendToStream(stream, [], { expectedVersion: 'no_stream' })).rejects.toBeInstanceOf(
        ConcurrencyError,
      );
    });

    it('lets exactly one of many concurrent appends at the same version win', async () => {
      const stream = streamName();
      await store.appendToStream(stream, someEvents(1), { expectedVersion: 'no_stream' });

      const results = await Promise.allSettled(
        Array.from({ length: 10 }, (_, n) =>
          store.appendToStream(stream, [anEvent('ThingHappened', { n })], { expectedVersion: 1 }),
        ),
      );

      const won = results.filter((result) => result.status === 'fulfilled');
      const lost = results.flatMap((result) => (result.status === 'rejected' ? [result.reason as unknown] : []));
      expect(won).toHaveLength(1);
      expect(lost).toHaveLength(9);
      for (const error of lost) {
        expect(error).toBeInstanceOf(ConcurrencyError);
        expect(error).toMatchObject({ expected: 1, actual: 2 });
      }
      expect((await store.readStream(stream)).currentStreamVersion).toBe(2);
    });

    it('lets every concurrent append with "any" through, one version each', async () => {
      const stream = streamName();

      await Promise.all(
        Array.from({ length: 8 }, (_, n) =>
          store.appendToStream(stream, [anEvent('ThingHappened', { n })], { expectedVersion: 'any' }),
        ),
      );

      const { events } = await store.readStream(stream);
      expect(events.map((event) => event.streamVersion)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
      expect(new Set(events.map((event) => (event.data as { n: number }).n)).size).toBe(8);
    });
  });

  describe('inline projections', () => {
    it('updates the read model in the append transaction', async () => {
      const stream = streamName();
      await store.appendToStream(stream, [anEvent('ThingHappened'), anEvent('ThingRenamed', { name: 'first' })], {
        expectedVersion: 'no_stream',
      });
      await store.appendToStream(stream, [anEvent('Unrelated')], { expectedVersion: 2 });

      const rows = await store.query(
        'select stream_id, version, event_count, last_type, name from stream_summary where stream_id = $1',
        [stream],
      );

      expect(rows).toEqual([
        { stream_id: stream, version: 2, event_count: 2, last_type: 'ThingRenamed', name: 'first' },
      ]);
    });

    it('rolls the events back with a failing projection', async () => {
      const stream = streamName();
      await store.appendToStream(stream, [anEvent()], { expectedVersion: 'no_stream' });

      const append = store.appendToStream(
        stream,
        [anEvent('ThingRenamed', { name: 'x' }), anEvent('ThingHappened', { failProjection: true })],
        {
          expectedVersion: 1,
        },
      );

      await expect(append).rejects.toThrow('projection refused the event');
      expect((await store.readStream(stream)).currentStreamVersion).toBe(1);
      const rows = await store.query('select version, name from stream_summary where stream_id = $1', [stream]);
      expect(rows).toEqual([{ version: 1, name: null }]);
    });

    it('rebuilds identical rows from the events after the read model was damaged', async () => {
      for (let n = 0; n < 30; n++) {
        const stream = `rebuild:${n % 7}:${randomUUID()}`;
        await store.appendToStream(
          stream,
          [anEvent('ThingHappened'), anEvent('ThingRenamed', { name: `name-${n}` }), anEvent('Unrelated')],
          {
            expectedVersion: 'no_stream',
          },
        );
      }
      const before = await summaryRows();
      await store.query(`delete from stream_summary where stream_id like 'rebuild:3:%'`);
      await store.query(`update stream_summary set name = 'damaged'`);
      expect(await summaryRows()).not.toEqual(before);
      const progress: [number, number][] = [];

      const result = await store.rebuildProjection(streamSummaryProjection, {
        batchSize: 7,
        onProgress: (done, total) => progress.push([done, total]),
      });

      expect(await summaryRows()).toEqual(before);
      const [{ count }] = await store.query<{ count: number }>(
        `select count(*)::int as count from store_test.events where type in ('ThingHappened', 'ThingRenamed')`,
      );
      expect(result.events).toBe(count);
      expect(progress[0]).toEqual([0, count]);
      expect(progress[progress.length - 1]).toEqual([count, count]);
      expect(progress.length).toBe(Math.ceil(count / 7) + 1);
    });
  });

  describe('rebuild in the database', () => {
    it('replays batches with rebuildBatch into the rows the inline projection wrote, reporting the same progress', async () => {
      for (let n = 0; n < 25; n++) {
        await store.appendToStream(
          `sqlrebuild:${n % 5}:${randomUUID()}`,
          [anEvent('ThingHappened'), anEvent('Unrelated'), anEvent('ThingRenamed', { name: `name-${n}` })],
          { expectedVersion: 'no_stream' },
        );
      }
      const renamedAgain = `sqlrebuild:again:${randomUUID()}`;
      await store.appendToStream(renamedAgain, [anEvent('ThingRenamed', { name: 'first' })], {
        expectedVersion: 'no_stream',
      });
      await store.appendToStream(renamedAgain, [anEvent('ThingHappened'), anEvent('ThingHappened')], {
        expectedVersion: 1,
      });
      const before = await summaryRows();
      await store.query(`update stream_summary set name = 'damaged', event_count = 0`);
      const inProcess: [number, number][] = [];
      await store.rebuildProjection(streamSummaryProjection, {
        batchSize: 7,
        onProgress: (done, total) => inProcess.push([done, total]),
      });
      await store.query(`update stream_summary set name = 'damaged', event_count = 0`);
      const inDatabase: [number, number][] = [];

      const result = await store.rebuildProjection(streamSummaryProjectionInDatabase, {
        batchSize: 7,
        onProgress: (done, total) => inDatabase.push([done, total]),
      });

      expect(await summaryRows()).toEqual(before);
      expect(inDatabase).toEqual(inProcess);
      expect(result.events).toBe(inDatabase[inDatabase.length - 1][0]);
      const [again] = await store.query('select name, event_count from stream_summary where stream_id = $1', [
        renamedAgain,
      ]);
      expect(again).toEqual({ name: 'first', event_count: 3 });
    });
  });

  describe('projection inside the append statement', () => {
    it('writes the rows handle would, leaves them alone on a lost race, and falls back to handle', async () => {
      const inlineStore = await PostgresEventStore.open({
        databaseUrl: database.url,
        schema: 'store_inline',
        projections: [streamSummaryProjectionInline],
        extraMigrations: [streamSummaryMigration],
      });
      try {
        const streams = Array.from({ length: 4 }, () => `inline:${randomUUID()}`);
        for (const [n, stream] of streams.entries()) {
          await inlineStore.appendToStream(stream, [anEvent('ThingHappened'), anEvent('Unrelated')], {
            expectedVersion: 'no_stream',
          });
          await inlineStore.appendToStream(
            stream,
            [
              anEvent('ThingRenamed', { name: `name-${n}` }),
              anEvent('ThingHappened'),
              anEvent('ThingRenamed', { name: 'last' }),
            ].slice(0, n),
            { expectedVersion: 2 },
          );
        }
        const rows = () => inlineStore.query('select * from stream_summary order by stream_id');
        const written = await rows();
        expect(written).toHaveLength(4);

        await expect(
          inlineStore.appendToStream(streams[0], [anEvent('ThingRenamed', { name: 'lost' })], { expectedVersion: 1 }),
        ).rejects.toBeInstanceOf(ConcurrencyError);
        expect(await rows()).toEqual(written);

        await inlineStore.rebuildProjection(streamSummaryProjection, { batchSize: 3 });
        expect(await rows()).toEqual(written);

        await expect(
          inlineStore.appendToStream(streams[1], [anEvent('ThingHappened', { failProjection: true })], {
            expectedVersion: 'any',
          }),
        ).rejects.toThrow('projection refused the event');
        expect(await rows()).toEqual(written);
      } finally {
        await inlineStore.close();
      }
    });
    it('runs neither a statement nor handle for a projection whose inline statement is null', async () => {
      const handled: string[] = [];
      const quiet: InlineProjection = {
        name: 'quiet',
        eventTypes: ['ThingHappened'],
        inlineStatement: () => null,
        handle: async (events) => void handled.push(...events.map((event) => event.eventId)),
        truncate: async () => undefined,
      };
      const quietStore = await PostgresEventStore.open({
        databaseUrl: database.url,
        schema: 'store_quiet',
        projections: [quiet],
      });
      try {
        const stream = `quiet:${randomUUID()}`;
        const { events } = await quietStore.appendToStream(stream, [anEvent('ThingHappened')], {
          expectedVersion: 'no_stream',
        });
        expect(events).toHaveLength(1);
        expect(handled).toEqual([]);
      } finally {
        await quietStore.close();
      }
    });
  });

  describe('transactions, queries and health', () => {
    it('runs service-owned statements in one transaction', async () => {
      await store.query('create table if not exists idempotency (key text primary key)');

      await expect(
        store.withTransaction(async (context) => {
          await context.execute('insert into idempotency (key) values ($1)', ['k-1']);
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      const inserted = await store.withTransaction(async (context) =>
        context.execute<{ key: string }>('insert into idempotency (key) values ($1) returning key', ['k-2']),
      );

      expect(inserted).toEqual([{ key: 'k-2' }]);
      expect(await store.query('select key from idempotency order by key')).toEqual([{ key: 'k-2' }]);
    });

    it('appends inside a transaction: events, projections and statements commit together or not at all', async () => {
      await store.query('create table if not exists side_effect (stream_id text primary key)');
      const [kept, rolledBack] = [streamName(), streamName()];
      await expect(
        store.withTransaction(async (context) => {
          await context.execute('insert into side_effect (stream_id) values ($1)', [rolledBack]);
          await context.appendToStream(rolledBack, [anEvent()], { expectedVersion: 'no_stream' });
          throw new Error('abort');
        }),
      ).rejects.toThrow('abort');
      expect((await store.readStream(rolledBack)).streamExists).toBe(false);

      await store.appendToStream(kept, [anEvent()], { expectedVersion: 'no_stream' });
      const appended = await store.withTransaction(async (context) => {
        await context.execute('insert into side_effect (stream_id) values ($1)', [kept]);
        // A lost race inside the transaction is reported without aborting it; `any` appends after the winner.
        await expect(context.appendToStream(kept, [anEvent()], { expectedVersion: 'no_stream' })).rejects.toEqual(
          new ConcurrencyError(kept, 'no_stream', 1),
        );
        return context.appendToStream(kept, [anEvent('ThingRenamed', { name: 'kept' })], { expectedVersion: 'any' });
      });

      expect(appended.nextExpectedStreamVersion).toBe(2);
      expect(await store.query('select stream_id from side_effect')).toEqual([{ stream_id: kept }]);
      expect(
        await store.query('select stream_id from stream_summary where stream_id = any($1)', [[kept, rolledBack]]),
      ).toEqual([{ stream_id: kept }]);
    });

    it('opens again, and from two instances at once, without re-running migrations', async () => {
      const [a, b] = await Promise.all([openStore(), openStore()]);
      await Promise.all([a.close(), b.close()]);

      const applied = await store.query<{ name: string }>(
        'select name from store_test.mikro_orm_migrations order by id',
      );
      expect(applied.map((row) => row.name)).toEqual(['event_store_0001_events', 'test_0001_stream_summary']);
    });

    it('creates a missing database, turns unhealthy when it disappears, and logs the lost connections as JSON, not to stdout', async () => {
      const url = new URL(database.url);
      const name = `${database.name}_created`;
      url.pathname = `/${name}`;
      const warnings: Array<{ obj: object; msg?: string }> = [];
      const stdout = jest.spyOn(console, 'log');

      const created = await PostgresEventStore.open({
        databaseUrl: url.toString(),
        schema: 'fresh',
        logger: { warn: (obj, msg) => warnings.push({ obj, msg }) },
      });
      try {
        expect(await created.isHealthy()).toBe(true);
        expect(await created.readStream('nothing')).toMatchObject({ streamExists: false });
        await store.query(`drop database "${name}" with (force)`);
        expect(await created.isHealthy()).toBe(false);
        for (let waited = 0; warnings.length === 0 && waited < 5_000; waited += 20) {
          await new Promise((resolve) => setTimeout(resolve, 20));
        }
        expect(warnings[0]).toEqual({
          obj: { component: 'postgres-driver' },
          msg: expect.stringMatching(/Connection/),
        });
        expect(stdout).not.toHaveBeenCalled();
      } finally {
        stdout.mockRestore();
        await created.close();
      }
    });

    it('refuses a schema name that is not a plain identifier', async () => {
      await expect(PostgresEventStore.open({ databaseUrl: database.url, schema: 'x"; drop' })).rejects.toMatchObject({
        code: EventStoreErrorCode.INVALID_ARGUMENT,
      });
    });

    it('reports UNAVAILABLE when the database cannot be reached', async () => {
      const open = PostgresEventStore.open({ databaseUrl: 'postgresql://postgres@127.0.0.1:1/nowhere', schema: 'x' });

      await expect(open).rejects.toMatchObject({
        code: EventStoreErrorCode.UNAVAILABLE,
        message: 'The event store database is unavailable',
      });
    });
  });
});
