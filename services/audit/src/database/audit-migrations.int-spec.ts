import { type TestDatabase, createTestDatabase } from '@platform/testing';
import { Client } from 'pg';
import { AuditStore } from '../records/audit-store.repository';
import { secretEvent, streamedEvents, valuesResolvedEvent } from '../testing/secret-events';
import { migrateAuditDatabase } from './audit-migrations';

jest.setTimeout(60_000);

const streamed = (events: ReturnType<typeof secretEvent>[]) => streamedEvents(events, 1, 1_000);

describe('audit migrations', () => {
  let database: TestDatabase;
  let sql: Client;
  let store: AuditStore;

  beforeEach(async () => {
    database = await createTestDatabase();
    sql = new Client({ connectionString: database.url });
  });

  afterEach(async () => {
    await store.close();
    await sql.end();
    await database.drop();
  });

  it('0002 keeps a trail written under 0001 and its query paths, on leaner indexes', async () => {
    expect(await migrateAuditDatabase(database.url, { through: 'audit_0001_records' })).toEqual(['audit_0001_records']);
    await sql.connect();
    // Today's writer names 0004's columns: lend them for the writing, so the rows are 0001's columns alone.
    await sql.query(`alter table audit.records add column requested_by_sub text, add column requested_by_org text,
      add column requested_by_role text, add column deployment_id text`);
    store = AuditStore.open(database.url);
    const orgs = ['acme', 'initech'];
    const events = Array.from({ length: 300 }, (_, i) =>
      i % 5 === 4
        ? valuesResolvedEvent([{ key: `K${i % 7}`, version: 1, scope: 'customer' }], {
            organizationId: orgs[i % 2],
            customerOrganizationId: 'globex',
          })
        : secretEvent({
            organizationId: orgs[i % 2],
            key: `K${i % 7}`,
            customerOrganizationId: i % 3 === 0 ? 'globex' : null,
          }),
    );
    await store.apply(streamed(events));
    const filters = [
      { organizationId: 'acme', limit: 50 },
      { organizationId: 'acme', customerOrganizationId: 'globex', limit: 50 },
      { organizationId: 'initech', key: 'K3', limit: 50 },
      { organizationId: 'acme', actorSub: 'admin@acme', beforeSequence: 200, limit: 50 },
    ];
    const answersBefore = await Promise.all(filters.map((filter) => store.query(filter)));
    await sql.query(`alter table audit.records drop column requested_by_sub, drop column requested_by_org,
      drop column requested_by_role, drop column deployment_id`);
    const trail = async () =>
      (
        await sql.query(`select sequence, event_id, type, organization_id, customer_organization_id, key, version,
          actor_sub, actor_org, actor_role, occurred_at, recorded_at, resolved, prev_hash, hash
          from audit.records order by sequence`)
      ).rows;
    const trailBefore = await trail();

    expect(await migrateAuditDatabase(database.url)).toEqual([
      'audit_0002_leaner_indexes',
      'audit_0003_stream_gaps',
      'audit_0004_attribution',
    ]);
    // 0004 adds attribution, absent from every record written before.
    const { rows: attributed } = await sql.query(
      'select count(*)::int as n from audit.records where requested_by_sub is not null or deployment_id is not null',
    );
    expect(attributed).toEqual([{ n: 0 }]);
    // 0003 only adds the table of stream gaps: a trail written before it has none open.
    expect(await store.openStreamGaps()).toEqual([]);

    expect(await trail()).toEqual(trailBefore);
    expect(await Promise.all(filters.map((filter) => store.query(filter)))).toEqual(answersBefore);
    for (const org of orgs) expect(await store.verifyChain(org)).toEqual({ ok: true, checked: 150 });
    const { rows: indexes } = await sql.query<{ indexname: string; indexdef: string }>(
      `select indexname, indexdef from pg_indexes where schemaname = 'audit' and tablename = 'records'
        order by indexname`,
    );
    expect(indexes.map(({ indexname, indexdef }) => `${indexname}: ${indexdef.replace(/^.* USING /, '')}`)).toEqual([
      'records_event_id_unique: btree (event_id)',
      'records_org_actor_sequence: btree (organization_id, actor_sub, sequence)',
      'records_org_customer_sequence: btree (organization_id, customer_organization_id, sequence) WHERE (customer_organization_id IS NOT NULL)',
      'records_org_deployment_sequence: btree (organization_id, deployment_id, sequence) WHERE (deployment_id IS NOT NULL)',
      'records_org_key_sequence: btree (organization_id, key, sequence) WHERE (key IS NOT NULL)',
      'records_org_requester_sequence: btree (organization_id, requested_by_sub, sequence) WHERE (requested_by_sub IS NOT NULL)',
      'records_pkey: btree (organization_id, sequence)',
      "records_resolved_keys: gin (resolved jsonb_path_ops) WHERE (resolved <> '[]'::jsonb)",
    ]);
  });

  it('0002 leaves the customer and key filters an index to use, whatever the values asked for', async () => {
    await migrateAuditDatabase(database.url);
    store = AuditStore.open(database.url);
    await sql.connect();
    // 50,000 records of 10 vendors, 500 keys and 37 customers (not chained: only the planner looks at them).
    await sql.query(`insert into audit.records
      select i, gen_random_uuid(), 'SecretCreated', 'vendor' || i % 10, case when i % 10 = 9 then 'customer' || i % 37 end,
             case when i % 10 = 9 then null else 'KEY_' || i % 500 end, 1, 'admin', 'vendor' || i % 10, 'admin', now(), now(),
             case when i % 10 = 9 then jsonb_build_array(jsonb_build_object('key', 'KEY_' || i % 500)) else '[]' end,
             '', ''
        from generate_series(1, 50000) i`);
    await sql.query('analyze audit.records');
    // A generic plan does not know the values: the partial indexes must be implied by the filter's shape alone.
    await sql.query('set plan_cache_mode = force_generic_plan');
    const plan = async (condition: string): Promise<string> => {
      await sql.query(
        `prepare filtered(text, text) as select sequence from audit.records
          where organization_id = $1 and ${condition} order by sequence desc limit 101`,
      );
      const { rows } = await sql.query<{ 'QUERY PLAN': string }>(`explain execute filtered('vendor3', 'x')`);
      await sql.query('deallocate filtered');
      return rows.map((row) => row['QUERY PLAN']).join('\n');
    };
    expect(await plan('customer_organization_id = $2')).toContain('records_org_customer_sequence');
    const keyPlan = await plan(
      `(key = $2 or (resolved <> '[]' and resolved @> jsonb_build_array(jsonb_build_object('key', $2::text))))`,
    );
    expect(keyPlan).toContain('records_org_key_sequence');
    expect(keyPlan).toContain('records_resolved_keys');
    expect(await plan('deployment_id = $2')).toContain('records_org_deployment_sequence');
  });
});
