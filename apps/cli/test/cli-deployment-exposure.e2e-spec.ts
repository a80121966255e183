import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import {
  PlaintextValues,
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
import { renderService } from '../../../services/render/src/render.definition';
import { secretsService } from '../../../services/secrets/src/secrets.definition';
import { EXIT } from '../src/cli-error';
import { type Command, type CommandContext } from '../src/command';
import { renderCommand, runCommand } from '../src/commands/render.commands';
import { getCommand, listCommand, setCommand } from '../src/commands/secrets.commands';
import { PlatformClient } from '../src/platform-client';

const { vendor } = testTenants();
const plaintexts = new PlaintextValues();

/**
 * `secrets render --deployment D` and `secrets run --deployment D` in-process against secrets and render: the
 * deployment lands in the index; `secrets get` and `list` show an exposure once one is recorded.
 */
describe('secrets render/run --deployment and exposed on get/list (CLI over NATS)', () => {
  let database: TestDatabase;
  let secrets: TestService;
  let render: TestService;
  let nats: TestNatsClient;
  let tokens: TestTokens;
  let prefix: string;
  let admin: string;
  let dir: string;

  async function run(command: Command, args: string[], values: CommandContext['values']) {
    const out: string[] = [];
    const cli = await PlatformClient.connect({
      natsUrl: testInfrastructure().natsUrl,
      subjectPrefix: prefix,
      token: admin,
      timeoutMs: 10_000,
    });
    const context: CommandContext = {
      args,
      values,
      output: { json: false, out: (text) => void out.push(text), err: () => undefined },
      client: () => Promise.resolve(cli),
      env: { PATH: process.env.PATH },
      stdin: Object.assign(Readable.from([]), { isTTY: false }),
    };
    try {
      const code = await command.run(context);
      return { code: (code ?? EXIT.OK) as number, out: out.join('\n') };
    } finally {
      await cli.close().catch(() => undefined);
    }
  }

  const deploymentIds = async () =>
    (
      await nats.request<{ deployments?: Array<{ deploymentId: string }> }>(
        'secrets.v1.deployments',
        {},
        { token: admin },
      )
    ).body.deployments?.map((d) => d.deploymentId) ?? [];

  beforeAll(async () => {
    database = await createTestDatabase();
    prefix = uniqueSubjectPrefix();
    tokens = await TestTokens.create();
    secrets = await startTestService(secretsService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    render = await startTestService(renderService, { NATS_SUBJECT_PREFIX: prefix, RENDER_WORKERS: '1' });
    nats = await TestNatsClient.connect(prefix);
    admin = await tokens.vendor(vendor, 'admin');
    dir = mkdtempSync(join(tmpdir(), 'cli-deployment-'));
    expect((await run(setCommand, ['DB_PASSWORD', plaintexts.next('db')], {})).code).toBe(EXIT.OK);
  });

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await nats?.close();
    await render?.close();
    await secrets?.close();
    await releaseSubjectPrefix(prefix);
    await database?.drop();
  });

  it('records the deployment a render or a run was for', async () => {
    const template = join(dir, 'app.tmpl');
    writeFileSync(template, 'DB={{ .Secrets.DB_PASSWORD }}');
    expect(await deploymentIds()).toEqual([]);
    const rendered = await run(renderCommand, [template], { format: 'text', deployment: 'web' });
    expect(rendered.code).toBe(EXIT.OK);
    expect(await deploymentIds()).toEqual(['web']);

    const ran = await run(runCommand, [process.execPath, '-e', 'process.exit(process.env.DB_PASSWORD ? 0 : 3)'], {
      deployment: 'job',
    });
    expect(ran.code).toBe(0);
    expect(await deploymentIds()).toEqual(['job', 'web']);
  });

  it('shows on get and list when the current version was exposed, and when', async () => {
    const before = await run(getCommand, ['DB_PASSWORD'], {});
    expect(before.out).toMatch(/EXPOSED\nDB_PASSWORD\s+vendor\s+1\s+\S+\s+admin@\S+$/m);
    const report = await nats.request(
      'secrets.v1.reportexposure',
      {
        organizationId: vendor,
        deploymentId: 'web',
        key: 'DB_PASSWORD',
        scope: 'vendor',
        version: 1,
        lineCount: 3,
        firstSeenAt: '2026-01-01T00:00:00Z',
        lastSeenAt: '2026-01-01T00:05:00Z',
      },
      { token: await tokens.platformService('redaction', 'secrets', ['secrets:report-exposure']) },
    );
    expect(report.status).toBeUndefined();
    for (const command of [getCommand, listCommand]) {
      const shown = await run(command, command === getCommand ? ['DB_PASSWORD'] : [], {});
      expect(shown.out).toMatch(
        /DB_PASSWORD\s+vendor\s+1\s.*\syes 2026-01-01T00:00:00(\.000)?Z\.\.2026-01-01T00:05:00/,
      );
    }
  });
});
