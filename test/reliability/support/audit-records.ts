import { type Client } from 'pg';
import { until } from './wait';

/** Once the audit service recorded at least `count` events, the event ids audit.records holds. */
export async function auditedEventIds(sql: Client, count: number): Promise<string[]> {
  const recorded = async () =>
    Number((await sql.query<{ count: string }>('select count(*) from audit.records')).rows[0].count);
  await until(async () => (await recorded()) >= count, 'the audit service to record every event');
  const { rows } = await sql.query<{ event_id: string }>('select event_id from audit.records');
  return rows.map((row) => row.event_id);
}
