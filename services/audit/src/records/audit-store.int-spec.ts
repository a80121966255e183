import { type Client } from 'pg';
import { type AuditTestbed, openAuditTestbed } from '../testing/audit-testbed';
import {
  type SecretEventJson,
  secretEvent,
  streamedEvents as streamed,
  valuesResolvedEvent,
} from '../testing/secret-events';
import { type AuditStore } from './audit-store.repository';

jest.setTimeout(60_000);

const orgs = ['acme', 'initech', 'umbrella'];

function eventsOf(count: number, key = (i: number) => `KEY_${i}`): SecretEventJson[] {
  return Array.from({ length: count }, (_, i) => secretEvent({ organizationId: orgs[i % orgs.length], key: key(i) }));
}

describe('AuditStore.apply over batches larger than one insert statement', () => {
  let testbed: AuditTestbed;
  let store: AuditStore;
  let sql: Client;

  beforeEach(async () => {
    testbed = await openAuditTestbed();
    ({ store, sql } = testbed);
  });

  afterEach(() => testbed?.close());

  const recordCount = async () => Number((await sql.query('select count(*) from audit.records')).rows[0].count);

  it('links every chain across the statements of one transaction', async () => {
    const outcome = await store.apply(streamed(eventsOf(2_500)));

    expect(outcome).toMatchObject({ kind: 'applied', appliedThrough: 2_500 });
    expect(outcome.kind === 'applied' && outcome.records).toHaveLength(2_500);
    expect(await recordCount()).toBe(2_500);
    const perOrganization: Record<string, number> = { acme: 834, initech: 833, umbrella: 833 };
    for (const org of orgs) expect(await store.verifyChain(org)).toEqual({ ok: true, checked: perOrganization[org] });
  });

  it('redoes the whole batch without an event id that a later statement finds in the trail', async () => {
    const earlier = eventsOf(10, (i) => `EARLIER_${i}`);
    await store.apply(streamed(earlier));
    const batch = eventsOf(2_500);
    batch[1_800] = earlier[4]; // re-published under another message id, landing in the batch's second statement

    const outcome = await store.apply(streamed(batch, 11));

    expect(outcome).toMatchObject({ kind: 'applied', appliedThrough: 2_510 });
    expect(outcome.kind === 'applied' && outcome.records).toHaveLength(2_499);
    expect(await recordCount()).toBe(2_509);
    const { rows } = await sql.query('select count(*) from audit.records where event_id = $1', [earlier[4].eventId]);
    expect(Number(rows[0].count)).toBe(1);
    for (const org of orgs) expect((await store.verifyChain(org)).ok).toBe(true);
  });

  it('leaves nothing behind when a later statement fails, and applies the batch once it can', async () => {
    await sql.query(`alter table audit.records add constraint refuses_poison check (key is distinct from 'POISON')`);
    const batch = eventsOf(2_500, (i) => (i === 2_200 ? 'POISON' : `KEY_${i}`));

    await expect(store.apply(streamed(batch))).rejects.toThrow(/refuses_poison/);
    expect(await recordCount()).toBe(0);
    expect(await store.appliedPosition()).toBe(0);
    expect((await sql.query('select count(*) from audit.chain_heads')).rows[0].count).toBe('0');

    await sql.query('alter table audit.records drop constraint refuses_poison');
    expect(await store.apply(streamed(batch))).toMatchObject({ kind: 'applied', appliedThrough: 2_500 });
    expect(await recordCount()).toBe(2_500);
  });

  it('applies with deferred durability as it does without, and flushes durably afterwards', async () => {
    await store.apply(streamed(eventsOf(1_200)), { deferDurability: true });
    await store.flushDurably();
    expect(await store.appliedPosition()).toBe(1_200);
    for (const org of orgs) expect((await store.verifyChain(org)).ok).toBe(true);
  });

  it('stores actor texts that Postgres array syntax would misread exactly as they came', async () => {
    const awkward = ['NULL', 'a,b', '{x}', 'say "hi"', 'back\\slash\\', ' padded ', 'ünïcødé', ''];
    const events = awkward.map((text, i) =>
      secretEvent({
        organizationId: 'acme',
        key: `KEY_${i}`,
        actor: { sub: text === '' ? 'x' : text, org: `o ${text}`, role: text },
      }),
    );

    await store.apply(streamed(events));

    const { rows } = await sql.query('select actor_sub, actor_org, actor_role from audit.records order by sequence');
    expect(rows).toEqual(
      awkward.map((text) => ({ actor_sub: text === '' ? 'x' : text, actor_org: `o ${text}`, actor_role: text })),
    );
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: awkward.length });
  });
});

describe('AuditStore attribution of resolves', () => {
  let testbed: AuditTestbed;
  let store: AuditStore;
  let sql: Client;

  beforeAll(async () => {
    testbed = await openAuditTestbed();
    ({ store, sql } = testbed);
  });

  afterAll(() => testbed?.close());

  it('records who asked and for which deployment, finds them by either sub and by deployment, and chains them', async () => {
    const alice = { sub: 'alice@acme', org: 'acme', role: 'read_write' };
    const resolved = [{ key: 'DB_PASSWORD', version: 2, scope: 'vendor' }];
    const events = [
      secretEvent({ key: 'DB_PASSWORD', actor: alice }),
      valuesResolvedEvent(resolved, { requestedBy: alice, deploymentId: 'web-1' }),
      valuesResolvedEvent(resolved, { deploymentId: 'web-2' }),
      valuesResolvedEvent(resolved),
    ];
    await store.apply(streamed(events));

    const byAlice = await store.query({ organizationId: 'acme', actorSub: 'alice@acme', limit: 10 });
    expect(byAlice.map((record) => [record.type, record.requestedBy?.sub, record.deploymentId])).toEqual([
      ['SecretValuesResolved', 'alice@acme', 'web-1'],
      ['SecretCreated', undefined, undefined],
    ]);
    expect(byAlice[0]).toMatchObject({ actor: { sub: 'service:render' }, requestedBy: alice, resolved });
    const byRender = await store.query({ organizationId: 'acme', actorSub: 'service:render', limit: 10 });
    expect(byRender).toHaveLength(3);
    const web2 = await store.query({ organizationId: 'acme', deploymentId: 'web-2', limit: 10 });
    expect(web2.map((record) => record.eventId)).toEqual([events[2].eventId]);
    expect(web2[0].requestedBy).toBeUndefined();
    expect(await store.query({ organizationId: 'acme', deploymentId: 'web-3', limit: 10 })).toEqual([]);
    expect(await store.verifyChain('acme')).toEqual({ ok: true, checked: 4 });
  });

  it('notices a requester or deployment changed in the database', async () => {
    await sql.query(`update audit.records set requested_by_sub = 'mallory@acme' where deployment_id = 'web-1'`);
    expect((await store.verifyChain('acme')).ok).toBe(false);
  });
});
