// Issue 16, point 4: a database writer moves ciphertexts between rows (another version, secret, customer or
// organization) to restore a revoked value or leak one tenant's value to another. Every move is refused through the
// real resolve path, with INTEGRITY_VIOLATION (as INTERNAL on the wire), an error log line and a metric — and a
// database written by the previous release (unbound ciphertexts, no digest) still resolves.
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { MasterKeyRing } from '@platform/crypto';
import {
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  PlaintextValues,
  ResolveCaller,
  releaseSubjectPrefix,
  startTestService,
  testTenants,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { Client } from 'pg';
import { secretsService } from '../../services/secrets/src/secrets.definition';
import { SecretsOperations } from '../../services/secrets/src/ops/secrets-operations';
import { devMasterKeyMaterial, devMasterKeys } from '../../services/secrets/test/support/dev-master-keys';

interface ErrorJson {
  error: { code: string; message: string; details?: Record<string, unknown> };
}
interface ResolvedJson {
  values: Record<string, { value: string; version: number; scope: string }>;
}
interface ResolveRequest {
  keys: string[];
  pins?: Record<string, number>;
  customerOrganizationId?: string;
  customerOnly?: boolean;
}

const { vendor, otherVendor, customer } = testTenants();
const plaintexts = new PlaintextValues();

describe('insider: ciphertexts moved between rows', () => {
  let database: TestDatabase;
  let db: Client;
  let prefix: string;
  let service: TestService;
  let client: TestNatsClient;
  let admin: string;
  let otherAdmin: string;
  let resolver: ResolveCaller;
  /** Each key's value per version, as written through the service. */
  const written = new Map<string, string[]>();

  const call = <T>(subject: string, body: unknown, token: string) => client.request<T>(subject, body, { token });

  /** Writes `versions` values of a key (create, then updates) and remembers them. */
  async function writeVersions(key: string, versions: number, token = admin, customerOrganizationId?: string) {
    const values = Array.from({ length: versions }, (_, i) => plaintexts.next(`${key}-v${i + 1}`));
    for (const [i, value] of values.entries()) {
      const reply = await call(
        i === 0 ? 'secrets.v1.create' : 'secrets.v1.update',
        { key, value, customerOrganizationId },
        token,
      );
      expect(reply.status).toBeUndefined();
    }
    written.set(`${customerOrganizationId ?? ''}/${key}`, values);
    return values;
  }

  /** Resolves as redaction does (§6): a reply key its token confirms, a fresh nonce, the signed reply checked. */
  async function resolve(request: ResolveRequest, organizationId = vendor) {
    const body = resolver.request({ organizationId, ...request });
    const reply = await call<{ ciphertext: string; signature: string }>('secrets.v1.resolve', body, resolver.token);
    if (reply.status !== undefined) return { error: (reply.body as unknown as ErrorJson).error, status: reply.status };
    return { resolved: (await resolver.open(body, reply.body)) as ResolvedJson };
  }

  /** The stored value event of a key at a version: its JWE and digest. */
  async function eventOf(organizationId: string, customerId: string, key: string, version: number) {
    const { rows } = await db.query<{ value: string; digest: string | null }>(
      `select data->>'value' as value, data->>'digest' as digest from events
       where stream_id = $1 and stream_version = $2`,
      [`secret:${organizationId}:${customerId || '_'}:${key}`, version],
    );
    return rows[0];
  }

  /** What an administrator with write access does: overwrite a value event's ciphertext (and digest). */
  async function overwriteEvent(
    organizationId: string,
    key: string,
    version: number,
    value: { value: string; digest: string | null },
  ) {
    await db.query(
      `update events set data = case when $4::text is null then (data - 'digest') else jsonb_set(data, '{digest}', to_jsonb($4::text)) end
                               || jsonb_build_object('value', $3::text)
       where stream_id = $1 and stream_version = $2`,
      [`secret:${organizationId}:_:${key}`, version, value.value, value.digest],
    );
  }

  async function overwriteViewValue(organizationId: string, key: string, value: string) {
    await db.query(`update secret_view set value = $3 where organization_id = $1 and customer_id = '' and key = $2`, [
      organizationId,
      key,
      value,
    ]);
  }

  /** Rewrites a value event and its row as the previous release stored them: header `{alg, enc, kid, sid}`, no digest. */
  async function downgrade(key: string, version: number, plaintext: string, withDigest = false) {
    const streamId = `secret:${vendor}:_:${key}`;
    const { rows } = await db.query<{ id: string; master_kid: string; wrapped: string }>(
      `select d.id, d.master_kid, d.wrapped
       from events e join data_key d on d.id = (e.data->>'dataKeyId')::uuid
       where e.stream_id = $1 and e.stream_version = $2`,
      [streamId, version],
    );
    const [{ id, master_kid: masterKid, wrapped }] = rows;
    const master = await MasterKeyRing.fromJwks(devMasterKeys);
    const dataKey = await master.unwrap(masterKid, wrapped);
    // JWE compact, dir + A256GCM (RFC 7516 §5.1): the base64url protected header is the AAD.
    const header = Buffer.from(JSON.stringify({ alg: 'dir', enc: 'A256GCM', kid: id, sid: streamId })).toString(
      'base64url',
    );
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', dataKey, iv).setAAD(Buffer.from(header, 'ascii'));
    const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
    const legacy = [header, '', iv, ciphertext, cipher.getAuthTag()]
      .map((part) => (typeof part === 'string' ? part : part.toString('base64url')))
      .join('.');
    const digest = withDigest ? createHash('sha256').update(legacy, 'ascii').digest('base64url') : null;
    await overwriteEvent(vendor, key, version, { value: legacy, digest });
    await db.query(
      `update secret_view set value = $3 where organization_id = $1 and customer_id = '' and key = $2 and version = $4`,
      [vendor, key, legacy, version],
    );
    return legacy;
  }

  function expectWithheld(
    outcome: Awaited<ReturnType<typeof resolve>>,
    key: string,
    version: number,
    reason: string,
  ): void {
    expect(outcome.resolved).toBeUndefined();
    expect(outcome.status).toBe(500);
    expect(outcome.error).toEqual({
      code: 'INTERNAL',
      message: `secret "${key}" version ${version} failed its integrity check (${reason}); its value is withheld`,
      details: { key, customerOrganizationId: null, version, reason },
    });
  }

  async function integrityFailures(reason: string): Promise<number> {
    const text = await (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith(`secrets_integrity_failures_total{reason="${reason}"`));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    prefix = uniqueSubjectPrefix();
    service = await startTestService(secretsService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    client = await TestNatsClient.connect(prefix);
    const tokens = await TestTokens.create();
    [admin, otherAdmin, resolver] = await Promise.all([
      tokens.vendor(vendor, 'admin'),
      tokens.vendor(otherVendor, 'admin'),
      ResolveCaller.create(tokens, 'log-masker', ['secrets:resolve-all']),
    ]);
    db = new Client({ connectionString: database.url });
    await db.connect();
    await db.query('set search_path to secrets');
  });

  afterAll(async () => {
    await db?.end();
    await client?.close();
    await service?.close();
    await database?.drop();
    if (prefix) await releaseSubjectPrefix(prefix);
  });

  it('resolves untouched values, bound to their version and carrying their digest in their event', async () => {
    const [, current] = await writeVersions('UNTOUCHED', 2);
    const stored = await eventOf(vendor, '', 'UNTOUCHED', 2);
    const header = JSON.parse(Buffer.from(stored.value.split('.')[0], 'base64url').toString()) as Record<
      string,
      unknown
    >;
    expect(header).toMatchObject({ sid: `secret:${vendor}:_:UNTOUCHED`, ver: 2, eid: expect.any(String) });
    expect(stored.digest).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const outcome = await resolve({ keys: ['UNTOUCHED'] });
    expect(outcome.resolved?.values).toEqual({ UNTOUCHED: { value: current, version: 2, scope: 'vendor' } });
  });

  it('refuses version 1 copied into the projection row of version 3 (the digest differs)', async () => {
    const [revoked] = await writeVersions('ROLLBACK_VIEW', 3);
    const before = await integrityFailures('DIGEST_MISMATCH');
    await overwriteViewValue(vendor, 'ROLLBACK_VIEW', (await eventOf(vendor, '', 'ROLLBACK_VIEW', 1)).value);
    const outcome = await resolve({ keys: ['ROLLBACK_VIEW'] });
    expectWithheld(outcome, 'ROLLBACK_VIEW', 3, 'DIGEST_MISMATCH');
    expect(JSON.stringify(outcome)).not.toContain(revoked);
    expect(await integrityFailures('DIGEST_MISMATCH')).toBe(before + 1);
  });

  it('refuses version 1 copied with its digest into the event and projection of version 3', async () => {
    await writeVersions('ROLLBACK_EVENT', 3);
    const first = await eventOf(vendor, '', 'ROLLBACK_EVENT', 1);
    await overwriteEvent(vendor, 'ROLLBACK_EVENT', 3, first);
    await overwriteViewValue(vendor, 'ROLLBACK_EVENT', first.value);
    expectWithheld(await resolve({ keys: ['ROLLBACK_EVENT'] }), 'ROLLBACK_EVENT', 3, 'WRONG_PLACE');
  });

  it('refuses a pinned version whose event was given another version ciphertext', async () => {
    await writeVersions('ROLLBACK_PIN', 3);
    await overwriteEvent(vendor, 'ROLLBACK_PIN', 2, await eventOf(vendor, '', 'ROLLBACK_PIN', 1));
    expectWithheld(
      await resolve({ keys: ['ROLLBACK_PIN'], pins: { ROLLBACK_PIN: 2 } }),
      'ROLLBACK_PIN',
      2,
      'WRONG_PLACE',
    );
    // The untouched current version still resolves.
    const current = await resolve({ keys: ['ROLLBACK_PIN'] });
    expect(current.resolved?.values.ROLLBACK_PIN.version).toBe(3);
  });

  it("refuses another secret's ciphertext in a secret's rows", async () => {
    const [source] = await writeVersions('SOURCE_KEY', 1);
    await writeVersions('TARGET_KEY', 1);
    const moved = await eventOf(vendor, '', 'SOURCE_KEY', 1);
    await overwriteEvent(vendor, 'TARGET_KEY', 1, moved);
    await overwriteViewValue(vendor, 'TARGET_KEY', moved.value);
    const outcome = await resolve({ keys: ['TARGET_KEY'] });
    expectWithheld(outcome, 'TARGET_KEY', 1, 'WRONG_STREAM');
    expect(JSON.stringify(outcome)).not.toContain(source);
  });

  it("refuses a vendor-level row moved to a customer, so it cannot pose as the customer's value", async () => {
    const [vendorValue] = await writeVersions('VENDOR_ONLY', 1);
    await db.query(
      `update secret_view set customer_id = $2 where organization_id = $1 and customer_id = '' and key = 'VENDOR_ONLY'`,
      [vendor, customer],
    );
    const outcome = await resolve({ keys: ['VENDOR_ONLY'], customerOrganizationId: customer, customerOnly: true });
    expect(outcome.error?.details).toEqual({
      key: 'VENDOR_ONLY',
      customerOrganizationId: customer,
      version: 1,
      reason: 'WRONG_STREAM',
    });
    expect(JSON.stringify(outcome)).not.toContain(vendorValue);
  });

  it("refuses another organization's ciphertext, and another organization's row", async () => {
    const [theirs] = await writeVersions('FOREIGN', 1, otherAdmin);
    await writeVersions('FOREIGN', 1);
    const moved = await eventOf(otherVendor, '', 'FOREIGN', 1);
    await overwriteEvent(vendor, 'FOREIGN', 1, moved);
    await overwriteViewValue(vendor, 'FOREIGN', moved.value);
    const copied = await resolve({ keys: ['FOREIGN'] });
    expectWithheld(copied, 'FOREIGN', 1, 'WRONG_STREAM');
    expect(JSON.stringify(copied)).not.toContain(theirs);

    const [alsoTheirs] = await writeVersions('FOREIGN_ROW', 1, otherAdmin);
    await db.query(`update secret_view set organization_id = $1 where organization_id = $2 and key = 'FOREIGN_ROW'`, [
      vendor,
      otherVendor,
    ]);
    const relabelled = await resolve({ keys: ['FOREIGN_ROW'] });
    expectWithheld(relabelled, 'FOREIGN_ROW', 1, 'WRONG_STREAM');
    expect(JSON.stringify(relabelled)).not.toContain(alsoTheirs);
  });

  describe('a database written by the previous release', () => {
    it('resolves values whose ciphertext binds only the stream and whose event has no digest', async () => {
      const [, current] = await writeVersions('LEGACY', 2);
      await downgrade('LEGACY', 2, current);
      expect((await resolve({ keys: ['LEGACY'] })).resolved?.values).toEqual({
        LEGACY: { value: current, version: 2, scope: 'vendor' },
      });
    });

    it('refuses an unbound ciphertext in an event of this release (which has a digest)', async () => {
      const [, current] = await writeVersions('LEGACY_IN_NEW', 2);
      await downgrade('LEGACY_IN_NEW', 2, current, true);
      expectWithheld(await resolve({ keys: ['LEGACY_IN_NEW'] }), 'LEGACY_IN_NEW', 2, 'WRONG_PLACE');
    });
  });

  it('logs each refusal with the place and reason only, never a value or ciphertext', async () => {
    const lines = service.logs.filter((line) => line.includes('stored value failed its integrity check'));
    expect(lines.length).toBeGreaterThanOrEqual(8);
    const first = JSON.parse(lines[0]) as Record<string, unknown>;
    expect(first).toMatchObject({ subject: 'secrets.v1.resolve', key: expect.any(String), reason: expect.any(String) });
    const everything = service.logs.join('\n');
    for (const values of written.values()) for (const value of values) expect(everything).not.toContain(value);
    const { rows } = await db.query<{ value: string }>(
      `select data->>'value' as value from events where data ? 'value'`,
    );
    for (const { value } of rows) expect(everything).not.toContain(value.split('.')[3]);
  });

  describe('values rebind, then SECRETS_UNBOUND_VALUES=refuse', () => {
    it('re-seals previous-release values bound to their place, after which a saved old copy is refused', async () => {
      const [first, current] = await writeVersions('REBIND', 2);
      const savedFirst = await downgrade('REBIND', 1, first);
      await downgrade('REBIND', 2, current);
      const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
      const progress: [number, number][] = [];
      let report;
      try {
        report = await ops.rebindValues((done, total) => progress.push([done, total]));
        expect(await ops.rebindValues()).toEqual({ rebound: 0, unrecoverable: 0 });
      } finally {
        await ops.close();
      }
      expect(report.rebound).toBeGreaterThanOrEqual(2);
      expect(progress[0]).toEqual([0, report.rebound]);
      for (const version of [1, 2]) {
        const stored = await eventOf(vendor, '', 'REBIND', version);
        expect(stored.digest).toBe(createHash('sha256').update(stored.value, 'ascii').digest('base64url'));
        const header = JSON.parse(Buffer.from(stored.value.split('.')[0], 'base64url').toString()) as object;
        expect(header).toMatchObject({ sid: `secret:${vendor}:_:REBIND`, ver: version });
      }

      await service.close();
      service = await startTestService(secretsService, {
        NATS_SUBJECT_PREFIX: prefix,
        DATABASE_URL: database.url,
        SECRETS_UNBOUND_VALUES: 'refuse',
      });
      // Version 2 is not resolved here: a cached value would be served (rightly) without reading the row again.
      expect((await resolve({ keys: ['REBIND'], pins: { REBIND: 1 } })).resolved?.values.REBIND.value).toBe(first);

      // An administrator puts back the unbound version-1 ciphertext saved before the rebind, digest removed.
      await overwriteEvent(vendor, 'REBIND', 2, { value: savedFirst, digest: null });
      await overwriteViewValue(vendor, 'REBIND', savedFirst);
      const outcome = await resolve({ keys: ['REBIND'] });
      expectWithheld(outcome, 'REBIND', 2, 'WRONG_PLACE');
      expect(JSON.stringify(outcome)).not.toContain(first);
    });
  });
});
