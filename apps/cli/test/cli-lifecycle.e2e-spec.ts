// `secrets rollback`, `secrets restore` and `secrets set --expires` through the real bin (built by `npm run build`).
import {
  type TestDatabase,
  type TestService,
  TestTokens,
  createTestDatabase,
  startTestService,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { type CliRun, platformCli } from './cli-process';
import { secretsService } from '../../../services/secrets/src/secrets.definition';

describe('secrets CLI: rollback, restore, expiry', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let service: TestService;
  let admin: string;
  let reader: string;

  const asUser = platformCli(prefix, () => admin);
  const cli = (args: string[], token = admin): Promise<CliRun> => asUser(args, { token });

  beforeAll(async () => {
    database = await createTestDatabase();
    service = await startTestService(secretsService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    const tokens = await TestTokens.create();
    admin = await tokens.vendor('clilifecycle', 'admin');
    reader = await tokens.vendor('clilifecycle', 'read_only');
  });

  afterAll(async () => {
    await service?.close();
    await database?.drop();
  });

  it('sets with --expires, and get, list and history show the expiry', async () => {
    expect(await cli(['set', 'CERT', 'cli-cert-value-1', '--expires', '2099-01-31T00:00:00Z'])).toMatchObject({
      code: 0,
      stdout: expect.stringMatching(/created CERT \(vendor\), version 1/),
    });
    const got = await cli(['get', 'CERT']);
    expect(got.stdout).toMatch(
      /^KEY\s+SCOPE\s+VERSION\s+UPDATED\s+UPDATED BY\s+EXPIRES\s+EXPOSED\nCERT\s+vendor\s+1\s.*2099-01-31T00:00:00Z/,
    );
    expect(JSON.parse((await cli(['list', '--json'])).stdout).secrets[0]).toMatchObject({
      key: 'CERT',
      expiresAt: '2099-01-31T00:00:00Z',
    });
    expect(await cli(['set', 'CERT', 'cli-cert-value-2', '--expires', '2020-01-01T00:00:00Z'])).toMatchObject({
      code: 5,
      stderr: expect.stringMatching(/INVALID_ARGUMENT.*expiresAt must be in the future/),
    });
  });

  it('rolls back to a version, shows where it came from, and refuses a version without a value', async () => {
    expect((await cli(['set', 'CERT', 'cli-cert-value-2'])).code).toBe(0);
    expect(await cli(['rollback', 'CERT', '1'])).toMatchObject({
      code: 0,
      stdout: "rolled back CERT to version 1's value, as version 3; no deployment affected\n",
    });
    expect((await cli(['history', 'CERT'])).stdout).toMatch(/\n3\s+SecretRolledBack\s+\S+\s+admin@clilifecycle\s+1\n/);
    expect(await cli(['rollback', 'CERT', '9'])).toMatchObject({
      code: 3,
      stderr: expect.stringMatching(/NOT_FOUND.*no version 9 with a value/),
    });
    expect(await cli(['rollback', 'CERT', 'one'])).toMatchObject({ code: 2 });
    expect(await cli(['rollback', 'CERT', '1'], reader)).toMatchObject({ code: 4 });
  });

  it('restores a deleted key, and refuses a live one', async () => {
    expect((await cli(['delete', 'CERT', '--yes'])).code).toBe(0);
    expect(await cli(['restore', 'CERT'])).toMatchObject({
      code: 0,
      stdout: 'restored CERT as version 5; no deployment affected\n',
    });
    expect(await cli(['restore', 'CERT'])).toMatchObject({
      code: 5,
      stderr: expect.stringMatching(/FAILED_PRECONDITION.*is live, not deleted/),
    });
  });
});
