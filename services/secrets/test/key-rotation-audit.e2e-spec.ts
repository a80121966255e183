import { randomBytes } from 'node:crypto';
import {
  type TestDatabase,
  type TestNatsClient,
  type TestPlatform,
  eventually,
  startTestPlatform,
  testTenants,
} from '@platform/testing';
import { auditService } from '../../audit/src/audit.definition';
import { SecretsOperations } from '../src/ops/secrets-operations';
import { secretsService } from '../src/secrets.definition';
import { devMasterKeyMaterial, devMasterKeys } from './support/dev-master-keys';

interface Records {
  records: Array<{ type: string; organizationId: string; actor: { sub: string; org: string } }>;
}

const { vendor } = testTenants();

/** Key management by the ops commands reaches the audit trail of the organization, like every other change. */
describe('key rotations in the audit trail', () => {
  let platform: TestPlatform;
  let database: TestDatabase;
  let client: TestNatsClient;
  let admin: string;

  beforeAll(async () => {
    platform = await startTestPlatform([secretsService, auditService]);
    ({ database, client } = platform);
    admin = await platform.tokens.vendor(vendor, 'admin');
  });

  afterAll(() => platform?.close());

  it('records `keys rotate` and `keys rotate-master` as DataKeyRotated and DataKeysRewrapped', async () => {
    const actor = { sub: 'ops:auditor-spec', org: 'platform', role: 'admin' };
    const ops = await SecretsOperations.open({ databaseUrl: database.url, masterKeys: devMasterKeyMaterial });
    try {
      await ops.rotateOrganizationKey(vendor, actor);
    } finally {
      await ops.close();
    }
    const newMaster = { kty: 'oct', kid: 'audit-spec-master-2', k: randomBytes(32).toString('base64url') };
    const rotating = await SecretsOperations.open({
      databaseUrl: database.url,
      masterKeys: { json: { keys: [newMaster, ...devMasterKeys.keys] }, source: 'test', isDevDefault: false },
    });
    try {
      expect(await rotating.rotateMasterKey(undefined, actor)).toBe(1);
    } finally {
      await rotating.close();
    }

    const query = async () =>
      (
        await client.request<Records>(
          'audit.v1.query',
          { types: ['DataKeyRotated', 'DataKeysRewrapped'] },
          { token: admin },
        )
      ).body.records;
    await eventually('both rotations are in the audit trail', async () => (await query()).length === 2);
    expect(await query()).toEqual([
      expect.objectContaining({
        type: 'DataKeysRewrapped',
        organizationId: vendor,
        actor: expect.objectContaining({ sub: actor.sub }),
      }),
      expect.objectContaining({
        type: 'DataKeyRotated',
        organizationId: vendor,
        actor: expect.objectContaining({ sub: actor.sub }),
      }),
    ]);
  });
});
