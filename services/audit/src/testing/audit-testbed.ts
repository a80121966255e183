import { type TestDatabase, startTestPlatform } from '@platform/testing';
import { type NatsConnection } from 'nats';
import { Client } from 'pg';
import { migrateAuditDatabase } from '../database/audit-migrations';
import { AuditStore } from '../records/audit-store.repository';

/** What an audit int-spec works on: a migrated database, its store, plain SQL on it, and NATS on a prefix of its own. */
export interface AuditTestbed {
  readonly database: TestDatabase;
  readonly store: AuditStore;
  readonly sql: Client;
  readonly nats: NatsConnection;
  readonly prefix: string;
  /** Ends the SQL client, the store and the connection, deletes the prefix's streams and drops the database. */
  close(): Promise<void>;
}

export async function openAuditTestbed(): Promise<AuditTestbed> {
  const platform = await startTestPlatform();
  try {
    await migrateAuditDatabase(platform.database.url);
    const store = platform.adopt(AuditStore.open(platform.database.url));
    const sql = platform.adopt(new Client({ connectionString: platform.database.url }));
    await sql.connect();
    return {
      database: platform.database,
      store,
      sql,
      nats: platform.client.connection,
      prefix: platform.prefix,
      close: () => platform.close(),
    };
  } catch (error) {
    await platform.close();
    throw error;
  }
}
