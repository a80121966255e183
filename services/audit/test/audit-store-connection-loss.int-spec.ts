// Regression test for db76d5c: a Postgres connection that dies in the middle of the audit store's transaction (here
// terminated by pg_terminate_backend while it waits for a lock) must fail that apply and leave the process running — the pool's checked-out client had no 'error' listener, so the lost connection crashed it.
import { Client } from 'pg';
import { type TestDatabase } from '@platform/testing';
import { type AuditStore, type StreamedEvent } from '../src/records/audit-store.repository';
import { type AuditTestbed, openAuditTestbed } from '../src/testing/audit-testbed';
import { secretEvent, streamedEvents } from '../src/testing/secret-events';

function streamed(count: number, firstSequence: number): StreamedEvent[] {
  const events = Array.from({ length: count }, (_, i) => secretEvent({ organizationId: 'acme', key: `KEY_${i}` }));
  return streamedEvents(events, firstSequence);
}

describe('AuditStore when its connection dies mid-transaction', () => {
  let testbed: AuditTestbed;
  let database: TestDatabase;
  let store: AuditStore;
  let sql: Client;
  const uncaught: Error[] = [];
  const onUncaught = (error: Error): void => {
    uncaught.push(error);
  };

  beforeAll(async () => {
    testbed = await openAuditTestbed();
    ({ database, store, sql } = testbed);
    process.on('uncaughtException', onUncaught);
  });

  afterAll(async () => {
    process.off('uncaughtException', onUncaught);
    await testbed?.close();
  });

  it('fails the apply, stays up, and applies the batch once the database answers again', async () => {
    // Hold the applied-position row: the store's transaction begins, then waits on it, mid-transaction.
    await sql.query('begin');
    await sql.query('select * from audit.applied_position where id = 1 for update');
    const batch = streamed(50, 1);
    const applying = store.apply(batch).then(
      () => undefined,
      (error: unknown) => error,
    );

    // Another session looks for it: inside a transaction, pg_stat_activity is a snapshot taken once.
    const watcher = new Client({ connectionString: database.url });
    await watcher.connect();
    let terminated = 0;
    const deadline = Date.now() + 10_000;
    while (terminated === 0 && Date.now() < deadline) {
      const { rows } = await watcher.query<{ terminated: boolean }>(
        `select pg_terminate_backend(pid) as terminated from pg_stat_activity
         where datname = current_database() and application_name = 'audit' and xact_start is not null
           and wait_event_type = 'Lock'`,
      );
      terminated = rows.filter((row) => row.terminated).length;
      if (terminated === 0) await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await watcher.end();
    expect(terminated).toBe(1);
    await sql.query('rollback');

    const failure = await applying;
    // The apply fails with the termination itself (admin_shutdown), which the consumer retries.
    expect(failure).toMatchObject({ code: '57P01' });
    // Let the dead socket's last events fire: unheard, they would surface here as an uncaught exception.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(uncaught).toEqual([]);

    // The dead client was discarded: the next apply gets a working connection and records the batch once.
    const outcome = await store.apply(batch);
    expect(outcome).toMatchObject({ kind: 'applied', appliedThrough: 50 });
    const { rows } = await sql.query<{ count: string }>('select count(*) from audit.records');
    expect(Number(rows[0].count)).toBe(50);
    expect(await store.isHealthy()).toBe(true);
  });
});
