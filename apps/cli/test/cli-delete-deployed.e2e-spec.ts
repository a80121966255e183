import { Readable } from 'node:stream';
import {
  PlaintextValues,
  ResolveCaller,
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  releaseSubjectPrefix,
  startTestService,
  testInfrastructure,
  testTenants,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { auditService } from '../../../services/audit/src/audit.definition';
import { secretsService } from '../../../services/secrets/src/secrets.definition';
import { EXIT } from '../src/cli-error';
import { type CommandContext } from '../src/command';
import { deleteCommand, setCommand } from '../src/commands/secrets.commands';
import { PlatformClient } from '../src/platform-client';

const { vendor, customer } = testTenants();
const plaintexts = new PlaintextValues();

/**
 * `secrets set` and `secrets delete` in-process against the secrets service, through the real platform client: the
 * refusal's details travel from the service to the table the command prints.
 */
describe('secrets set and delete of a deployed key (CLI over NATS)', () => {
  let database: TestDatabase;
  let service: TestService;
  let audit: TestService;
  let nats: TestNatsClient;
  let cli: PlatformClient;
  let tokens: TestTokens;
  let prefix: string;
  let admin: string;

  async function run(command: typeof deleteCommand, args: string[], values: CommandContext['values']) {
    const out: string[] = [];
    const context: CommandContext = {
      args,
      values,
      output: { json: false, out: (text) => void out.push(text), err: () => undefined },
      client: () => Promise.resolve(cli),
      env: {},
      stdin: Object.assign(Readable.from([]), { isTTY: false }),
    };
    try {
      await command.run(context);
      return { code: EXIT.OK as number, out: out.join('\n'), error: '' };
    } catch (error) {
      return { code: (error as { exitCode: number }).exitCode, out: out.join('\n'), error: (error as Error).message };
    }
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    prefix = uniqueSubjectPrefix();
    tokens = await TestTokens.create();
    service = await startTestService(secretsService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    audit = await startTestService(auditService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    nats = await TestNatsClient.connect(prefix);
    admin = await tokens.vendor(vendor, 'admin');
    cli = await PlatformClient.connect({
      natsUrl: testInfrastructure().natsUrl,
      subjectPrefix: prefix,
      token: admin,
      timeoutMs: 10_000,
    });

    expect((await run(setCommand, ['DB_PASSWORD', plaintexts.next('db')], {})).code).toBe(EXIT.OK);
    const caller = await ResolveCaller.bindToken(tokens, await tokens.service('deployer', ['secrets:resolve']));
    const body = caller.request({
      organizationId: vendor,
      customerOrganizationId: customer,
      deploymentId: 'shop',
      keys: ['DB_PASSWORD'],
    });
    const reply = await nats.request<{ ciphertext: string; signature: string; missing: string[] }>(
      'secrets.v1.resolve',
      body,
      { token: caller.token },
    );
    expect(reply.status).toBeUndefined();
    await caller.open(body, reply.body);
  });

  afterAll(async () => {
    await cli?.close();
    await nats?.close();
    await audit?.close();
    await service?.close();
    await releaseSubjectPrefix(prefix);
    await database?.drop();
  });

  it('set says how many deployments run an older value', async () => {
    const updated = await run(setCommand, ['DB_PASSWORD', plaintexts.next('db2')], {});
    expect(updated).toMatchObject({ code: EXIT.OK, error: '' });
    expect(updated.out).toBe(
      'updated DB_PASSWORD (vendor), version 2; 1 deployment runs an older value until redeployed ' +
        '(secrets deployments --stale --key DB_PASSWORD)',
    );
  });

  it('delete lists the deployment using the key and exits 5; with --force it deletes', async () => {
    const refused = await run(deleteCommand, ['DB_PASSWORD'], { yes: true });
    expect(refused.code).toBe(EXIT.REFUSED);
    expect(refused.error).toMatch(/^not deleted: 1 deployment still uses DB_PASSWORD; .*--force/);
    expect(refused.out.split('\n')).toEqual([
      `DEPLOYMENT  ${'SCOPE'.padEnd(customer.length)}  LAST RENDERED`,
      expect.stringMatching(new RegExp(`^shop {8}${customer}  \\d{4}-\\d\\d-\\d\\dT`)),
    ]);

    const forced = await run(deleteCommand, ['DB_PASSWORD'], { yes: true, force: true });
    expect(forced).toMatchObject({ code: EXIT.OK, error: '' });
    expect(forced.out.split('\n').slice(0, 2)).toEqual([
      'deleted DB_PASSWORD, version 3',
      '1 deployment still runs the deleted value:',
    ]);
  });
});
