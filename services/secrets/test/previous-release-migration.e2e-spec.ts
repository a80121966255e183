// Issue 21: "a database written by the previous release, migrated, still renders every value." The database is
// fixtures/previous-release.sql, dumped from what the release before per-customer data keys (5d97acb) wrote with
// fixtures/write-previous-release-db.ts (its header says how to regenerate it); previous-release.values.json lists
// what it wrote. This release migrates it at start, renders and masks every value, refuses a customer purge until
// `values rebind` has moved the customers' values to their own keys, then purges one customer alone.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataKeyRing, MasterKeyRing } from '@platform/crypto';
import {
  type Reply,
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  type TestService,
  eventually,
  startTestPlatform,
} from '@platform/testing';
import { Client } from 'pg';
import { redactionService } from '../../redaction/src/redaction.definition';
import { renderService } from '../../render/src/render.definition';
import { PostgresDataKeyStore } from '../src/keys/data-key.repository';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { openStoredValue } from '../src/secrets/stored-value';
import { secretsService } from '../src/secrets.definition';
import { SecretsRuntime } from '../src/secrets-runtime';
import { devMasterKeyMaterial, devMasterKeys } from './support/dev-master-keys';
import { CUSTOMERS, ORGANIZATION, type WrittenValues } from './fixtures/write-previous-release-db';

const MASK = '********';
const fixture = (name: string) => readFileSync(join(__dirname, 'fixtures', name), 'utf8');
const written = JSON.parse(fixture('previous-release.values.json')) as WrittenValues;

interface ErrorJson {
  error: { code: string; message: string };
}

/** What a render of KEY in a scope gives: the customer's own live value, else the vendor level's. */
function expectedCurrent(scope: string, key: string): string | undefined {
  const own = written[scope]?.[key];
  if (own && !own.deleted) return own.values[own.values.length - 1];
  const vendor = written[''][key];
  return vendor && !vendor.deleted ? vendor.values[vendor.values.length - 1] : undefined;
}

describe('a database written by the previous release', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let services: readonly TestService[];
  let client: TestNatsClient;
  let admin: string;

  const request = <T>(subject: string, body: unknown) =>
    client.request<T>(subject, body, { token: admin, timeoutMs: 10_000 });
  const render = (scope: string, template: string, pins: Record<string, number> = {}) =>
    request<{ output: string }>('render.v1.render', {
      template,
      format: 'text',
      pins,
      ...(scope === '' ? {} : { customerOrganizationId: scope }),
    });
  const ops = async <T>(run: (operations: SecretsOperations) => Promise<T>): Promise<T> => {
    const operations = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      return await run(operations);
    } finally {
      await operations.close();
    }
  };

  /** Renders every live key of every scope, and every earlier version of each live key pinned. */
  async function expectEveryValueRenders(scopes: readonly string[]): Promise<void> {
    for (const scope of scopes) {
      const keys = new Set([...Object.keys(written['']), ...Object.keys(written[scope])]);
      for (const key of keys) {
        const current = expectedCurrent(scope, key);
        const reply = await render(scope, `{{ index .Secrets "${key}" }}`);
        expect([scope, key, reply.status, reply.body.output]).toEqual([scope, key, undefined, current ?? '']);
      }
      for (const [key, { values, deleted }] of Object.entries(written[scope])) {
        if (deleted) continue;
        for (const [index, value] of values.entries()) {
          const reply = await render(scope, `{{ .Secrets.${key} }}`, { [key]: index + 1 });
          expect([scope, key, index + 1, reply.body.output]).toEqual([scope, key, index + 1, value]);
        }
      }
    }
  }

  /** Every value ever written in a scope (deleted keys and earlier versions included) is masked in its scope's logs. */
  async function expectEveryValueMasked(scope: string): Promise<void> {
    const values = [...Object.values(written['']), ...(scope === '' ? [] : Object.values(written[scope]))].flatMap(
      (entry) => entry.values,
    );
    const text = values.join(' | ');
    await eventually(
      `every value of scope "${scope}" is masked`,
      async () => {
        const reply = await request<{ text: string }>('redaction.v1.redact', {
          text,
          ...(scope === '' ? {} : { customerOrganizationId: scope }),
        });
        return reply.body.text === values.map(() => MASK).join(' | ');
      },
      { timeoutMs: 10_000, intervalMs: 100 },
    );
  }

  beforeAll(async () => {
    platform = await startTestPlatform();
    ({ database, client, services } = platform);
    const loader = new Client({ connectionString: database.url });
    await loader.connect();
    try {
      await loader.query(fixture('previous-release.sql'));
      // A dump keeps its cluster's transaction ids, which this cluster may not have reached: as `outbox rebase` does
      // for a logical restore, put them below any real id so the outbox publishes them in position order.
      await loader.query(`update secrets.events set transaction_id = '1'`);
    } finally {
      await loader.end();
    }
    await platform.start(secretsService);
    await platform.start(renderService);
    await platform.start(redactionService, { REDACTION_SETTLE_MS: '0' });
    admin = await platform.tokens.vendor(ORGANIZATION, 'admin');
  }, 120_000);

  afterAll(() => platform?.close());

  it('is migrated at start: every key of earlier releases is the vendor level’s', async () => {
    const store = services[0].app.get(SecretsRuntime).store;
    const keys = await store.query<{ customer_id: string }>('select customer_id from data_key');
    expect(keys.map((key) => key.customer_id)).toEqual(['']);
  });

  it('renders every value and masks every value, vendor level and customers', async () => {
    await expectEveryValueRenders(['', ...CUSTOMERS]);
    for (const scope of ['', ...CUSTOMERS]) await expectEveryValueMasked(scope);
  });

  it('refuses a customer purge while its values sit under the vendor-level key; nothing changes', async () => {
    await expect(ops((operations) => operations.purgeCustomer(ORGANIZATION, 'globex'))).rejects.toMatchObject({
      code: 'FAILED_PRECONDITION',
      message: expect.stringContaining('run `secrets values rebind` first'),
    });
    await expectEveryValueRenders(['globex']);
  });

  it('values rebind moves the customers’ values to their own keys; every value still renders', async () => {
    const customerValues = CUSTOMERS.flatMap((customer) => Object.values(written[customer])).flatMap((e) => e.values);
    expect(await ops((operations) => operations.rebindValues())).toEqual({
      rebound: customerValues.length,
      unrecoverable: 0,
    });
    expect(await ops((operations) => operations.rebindValues())).toEqual({ rebound: 0, unrecoverable: 0 });

    // Opened with a fresh key ring from what the events now hold, under each scope's own key.
    const store = services[0].app.get(SecretsRuntime).store;
    const ring = new DataKeyRing(await MasterKeyRing.fromJwks(devMasterKeys), new PostgresDataKeyStore(store));
    const events = await store.query<{
      stream_id: string;
      stream_version: number;
      event_id: string;
      value: string;
      digest: string;
      key_scope: string;
    }>(
      `select e.stream_id, e.stream_version, e.event_id, e.data->>'value' as value, e.data->>'digest' as digest,
              d.customer_id as key_scope
       from events e join data_key d on d.id = (e.data->>'dataKeyId')::uuid order by e.position`,
    );
    const opened = new Map<string, string[]>();
    for (const event of events) {
      const [, organizationId, customer, key] = event.stream_id.split(':');
      const scope = customer === '_' ? '' : customer;
      expect([event.stream_id, event.key_scope]).toEqual([event.stream_id, scope]);
      const value = await openStoredValue(ring, {
        organizationId,
        customerId: scope,
        key,
        version: event.stream_version,
        eventId: event.event_id,
        value: event.value,
        digest: event.digest,
      });
      opened.set(`${scope}/${key}`, [...(opened.get(`${scope}/${key}`) ?? []), value]);
    }
    for (const [scope, keys] of Object.entries(written)) {
      for (const [key, { values }] of Object.entries(keys)) expect(opened.get(`${scope}/${key}`)).toEqual(values);
    }
    await expectEveryValueRenders(['', ...CUSTOMERS]);
  });

  it('then purges one customer alone: the vendor level and the other customer render and mask as before', async () => {
    expect(await ops((operations) => operations.purgeCustomer(ORGANIZATION, 'globex'))).toEqual({
      dataKeysDeleted: 1,
      secretsRemoved: Object.keys(written.globex).length,
    });
    const reply: Reply<unknown> = await render('globex', '{{ .Secrets.GLOBEX_ONLY }}');
    expect((reply.body as ErrorJson).error.code).toBe('TEMPLATE_EXECUTION_ERROR');
    // globex now sees the vendor level's values only.
    expect((await render('globex', '{{ .Secrets.API_KEY }}')).body.output).toBe(expectedCurrent('', 'API_KEY'));
    await expectEveryValueRenders(['', 'initech']);
    for (const scope of ['', 'initech']) await expectEveryValueMasked(scope);
  });
});
