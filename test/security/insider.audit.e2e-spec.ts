// Issue 16, "audit that survives an administrator": whoever can write the audit database (and publish on NATS, but
// holds no checkpoint key) edits, deletes or truncates the trail; `audit.v1.verify` and `secrets audit verify` say
// which. A hole in SECRETS_EVENTS stops the applier loudly instead of being skipped.
import { fromJson } from '@bufbuild/protobuf';
import { VerifyAuditChainResponseSchema, type VerifyAuditChainResponseJson } from '@platform/contracts';
import {
  type TestDatabase,
  type TestService,
  TestNatsClient,
  TestTokens,
  createTestDatabase,
  eventually,
  eventuallyValue,
  startTestService,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { generateKeyPairSync } from 'node:crypto';
import { Client } from 'pg';
import { auditService } from '../../services/audit/src/audit.definition';
import { CheckpointSigner } from '../../services/audit/src/checkpoints/checkpoint';
import { checkpointStreamName, checkpointSubject } from '../../services/audit/src/checkpoints/checkpoint-stream';
import { type RecordRow, recordOf } from '../../services/audit/src/records/audit-store.repository';
import { GENESIS_HASH, chainHash } from '../../services/audit/src/records/hash-chain';
import {
  createSecretsEventsStream,
  publishSecretEvents,
  secretEvent,
} from '../../services/audit/src/testing/secret-events';
import {
  auditAcknowledgeGapCommand,
  auditGapsCommand,
  auditVerifyCommand,
} from '../../apps/cli/src/commands/audit.commands';
import { type Command, type CommandContext } from '../../apps/cli/src/command';
import { PlatformClient } from '../../apps/cli/src/platform-client';

jest.setTimeout(90_000);

/** Runs a `secrets` command in this process, as the bin would, with its lines of output and exit code. */
async function runCli(
  command: Command,
  args: string[],
  values: Record<string, string>,
  env: Record<string, string>,
  client?: PlatformClient,
): Promise<{ code: number; out: string[] }> {
  const out: string[] = [];
  const context = {
    args,
    values,
    output: { json: false, out: (line: string) => out.push(line), err: () => undefined },
    client: () => (client ? Promise.resolve(client) : Promise.reject(new Error('no client'))),
    env,
    stdin: process.stdin,
  } as unknown as CommandContext;
  const code = (await command.run(context)) ?? 0;
  return { code, out };
}

type Verdict = VerifyAuditChainResponseJson & { checked: number; firstBrokenSequence?: number };

const ORGS = ['altered', 'deleted', 'thinned', 'truncated', 'forged'] as const;
const EVENTS_PER_ORG = 5;

describe('an administrator cannot rewrite the audit trail unnoticed', () => {
  let database: TestDatabase;
  let prefix: string;
  let service: TestService;
  let client: TestNatsClient;
  let tokens: TestTokens;
  let sql: Client;
  const sequences = new Map<string, number[]>();

  const admin = (org: string) => tokens.vendor(org, 'admin');
  const verify = async (org: string): Promise<Verdict> => {
    const reply = await client.request<Verdict>('audit.v1.verify', {}, { token: await admin(org) });
    expect(reply.status).toBeUndefined();
    // The reply is the contract's message, new fields included.
    expect(() => fromJson(VerifyAuditChainResponseSchema, JSON.parse(reply.raw))).not.toThrow();
    return reply.body;
  };
  const metrics = async () => (await fetch(`http://127.0.0.1:${service.httpPort}/metrics`)).text();

  async function rowsOf(org: string): Promise<RecordRow[]> {
    return (
      await sql.query<RecordRow>('select * from audit.records where organization_id = $1 order by sequence', [org])
    ).rows;
  }

  /** What an insider with the database does after changing records: recompute every hash, and the head. */
  async function recomputeChain(org: string): Promise<void> {
    let prevHash = GENESIS_HASH;
    const rows = await rowsOf(org);
    await sql.query('begin');
    for (const row of rows) {
      const hash = chainHash(prevHash, recordOf(row));
      await sql.query(
        'update audit.records set prev_hash = $3, hash = $4 where organization_id = $1 and sequence = $2',
        [org, row.sequence, prevHash, hash],
      );
      prevHash = hash;
    }
    await sql.query(
      'update audit.chain_heads set last_sequence = $2, last_hash = $3, record_count = $4 where organization_id = $1',
      [org, rows.at(-1)?.sequence ?? 0, prevHash, rows.length],
    );
    await sql.query('commit');
  }

  beforeAll(async () => {
    database = await createTestDatabase();
    prefix = uniqueSubjectPrefix();
    tokens = await TestTokens.create();
    client = await TestNatsClient.connect(prefix);
    sql = new Client({ connectionString: database.url });
    await sql.connect();
    await createSecretsEventsStream(client.connection, prefix);
    service = await startTestService(auditService, {
      NATS_SUBJECT_PREFIX: prefix,
      DATABASE_URL: database.url,
      AUDIT_CHECKPOINT_INTERVAL_SECONDS: '1',
    });
    const events = ORGS.flatMap((org) =>
      Array.from({ length: EVENTS_PER_ORG }, (_, i) => secretEvent({ organizationId: org, key: `KEY_${i}` })),
    );
    const published = await publishSecretEvents(client.connection, prefix, events);
    events.forEach((event, i) =>
      sequences.set(event.organizationId, [...(sequences.get(event.organizationId) ?? []), published[i]]),
    );
    for (const org of ORGS) {
      await eventuallyValue(
        `${org}'s whole chain is signed`,
        () => verify(org),
        (verdict) => verdict.checkpoint?.count === EVENTS_PER_ORG,
      );
    }
  });

  afterAll(async () => {
    await service?.close();
    await client.close();
    await sql.end();
    await database.drop();
  });

  it("signs each organization's chain head, and verify checks against it", async () => {
    const last = sequences.get('altered')!.at(-1);
    expect(await verify('altered')).toEqual({
      ok: true,
      checked: EVENTS_PER_ORG,
      checkpoint: {
        sequence: last,
        count: EVENTS_PER_ORG,
        hash: (await rowsOf('altered')).at(-1)?.hash,
        signedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
        keyId: 'dev-audit-checkpoint',
      },
    });
  });

  it('reports a record edited with the chain recomputed as record_altered, and refuses to sign on top of it', async () => {
    const edited = sequences.get('altered')![1];
    await sql.query(`update audit.records set actor_sub = 'nobody@altered' where sequence = $1`, [edited]);
    await recomputeChain('altered');
    const { checkpoint } = await verify('altered');
    expect(await verify('altered')).toEqual({
      ok: false,
      checked: EVENTS_PER_ORG,
      firstBrokenSequence: checkpoint?.sequence,
      reason: 'record_altered',
      detail: expect.stringContaining(
        `the chain through sequence ${checkpoint?.sequence} no longer ends in the hash signed at`,
      ),
      checkpoint,
    });

    // A later event links onto the forged head; the signer will not vouch for it.
    await publishSecretEvents(client.connection, prefix, [secretEvent({ organizationId: 'altered', key: 'LATER' })]);
    await eventually('the signer refused the rewritten chain', async () =>
      /^audit_checkpoint_refusals_total\{reason="record_altered",service="audit"\} [1-9]/m.test(await metrics()),
    );
    expect(service.logs.join('')).toContain('refusing to sign an audit checkpoint');
    expect(await verify('altered')).toMatchObject({ ok: false, reason: 'record_altered', checkpoint });
  });

  it("reports an organization's deleted records and head as records_missing, not as an empty chain", async () => {
    const { checkpoint } = await verify('deleted');
    await sql.query(`delete from audit.records where organization_id = 'deleted'`);
    await sql.query(`delete from audit.chain_heads where organization_id = 'deleted'`);
    expect(await verify('deleted')).toEqual({
      ok: false,
      checked: 0,
      firstBrokenSequence: checkpoint?.sequence,
      reason: 'records_missing',
      detail: expect.stringMatching(/counts 5 records; none are left$/),
      checkpoint,
    });
  });

  it('reports a record deleted from the middle, the chain recomputed, as records_missing', async () => {
    const { checkpoint } = await verify('thinned');
    await sql.query(`delete from audit.records where sequence = $1`, [sequences.get('thinned')![2]]);
    await recomputeChain('thinned');
    expect(await verify('thinned')).toEqual({
      ok: false,
      checked: EVENTS_PER_ORG - 1,
      firstBrokenSequence: checkpoint?.sequence,
      reason: 'records_missing',
      detail: expect.stringMatching(/counts 5 records through sequence \d+; 4 are left$/),
      checkpoint,
    });
  });

  it('reports a truncated tail, head moved back, as truncated, and says where', async () => {
    const { checkpoint } = await verify('truncated');
    const kept = sequences.get('truncated')![2];
    await sql.query(`delete from audit.records where organization_id = 'truncated' and sequence > $1`, [kept]);
    const last = (await rowsOf('truncated')).at(-1)!;
    await sql.query(
      `update audit.chain_heads set last_sequence = $1, last_hash = $2, record_count = 3 where organization_id = 'truncated'`,
      [last.sequence, last.hash],
    );
    expect(await verify('truncated')).toEqual({
      ok: false,
      checked: 3,
      firstBrokenSequence: checkpoint?.sequence,
      reason: 'truncated',
      detail: expect.stringMatching(
        new RegExp(
          `^the chain ends at sequence ${kept}; the checkpoint signed at .* reaches sequence ${checkpoint?.sequence}$`,
        ),
      ),
      checkpoint,
    });
  });

  it('refuses a checkpoint forged with another key, even under the pinned kid', async () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const forger = CheckpointSigner.fromJwk({ ...privateKey.export({ format: 'jwk' }), kid: 'dev-audit-checkpoint' });
    const rows = await rowsOf('forged');
    await sql.query(`delete from audit.records where organization_id = 'forged' and sequence > $1`, [rows[1].sequence]);
    // The forger states the truncated chain as the truth.
    const forged = forger.sign({
      organizationId: 'forged',
      sequence: Number(rows[1].sequence),
      hash: rows[1].hash,
      count: 2,
      signedAt: new Date(),
    });
    const ack = await client.connection.jetstream().publish(checkpointSubject(prefix, 'forged'), Buffer.from(forged));
    expect(await verify('forged')).toEqual({
      ok: false,
      checked: 2,
      reason: 'checkpoint_invalid',
      detail: `the latest checkpoint (AUDIT_CHECKPOINTS sequence ${ack.seq}) is refused: checkpoint signature does not verify with key "dev-audit-checkpoint"`,
    });
  });

  it('keeps checkpoints out of reach of the JetStream API: no delete, no purge', async () => {
    const manager = await client.connection.jetstreamManager();
    const stream = checkpointStreamName(prefix);
    const info = await manager.streams.info(stream);
    expect(info.config).toMatchObject({ deny_delete: true, deny_purge: true });
    await expect(manager.streams.deleteMessage(stream, info.state.last_seq)).rejects.toThrow(/delete/i);
    await expect(manager.streams.purge(stream)).rejects.toThrow(/purge/i);
    expect((await manager.streams.info(stream)).state.messages).toBe(info.state.messages);
  });

  it('prints the reason and where with `secrets audit verify`, exit 5', async () => {
    const platform = await PlatformClient.connect({
      natsUrl: testInfrastructure().natsUrl,
      subjectPrefix: prefix,
      token: await admin('truncated'),
      timeoutMs: 10_000,
    });
    try {
      expect(await runCli(auditVerifyCommand, [], {}, {}, platform)).toEqual({
        code: 5,
        out: [
          expect.stringMatching(
            /^BROKEN \(truncated\) at sequence \d+: the chain ends at sequence \d+; the checkpoint signed at .* \(3 records checked; checkpoint signed .* by dev-audit-checkpoint at sequence \d+\)$/,
          ),
        ],
      });
    } finally {
      await platform.close();
    }
  });
});

describe('a sequence deleted from SECRETS_EVENTS stops the audit applier', () => {
  let database: TestDatabase;
  let prefix: string;
  let service: TestService | undefined;
  let client: TestNatsClient;

  beforeAll(async () => {
    database = await createTestDatabase();
    prefix = uniqueSubjectPrefix();
    client = await TestNatsClient.connect(prefix);
  });

  afterAll(async () => {
    await service?.close();
    await client.close();
    await database.drop();
  });

  it('reports the gap in a metric, /readyz and the log, and resumes only once ops acknowledge it', async () => {
    // An insider with the stream's storage (or a copy restored without one message) leaves a hole at sequence 2.
    await createSecretsEventsStream(client.connection, prefix, { allowDeletes: true });
    await publishSecretEvents(client.connection, prefix, [
      secretEvent({ key: 'BEFORE' }),
      secretEvent({ key: 'REMOVED' }),
      secretEvent({ key: 'AFTER' }),
    ]);
    const manager = await client.connection.jetstreamManager();
    await manager.streams.deleteMessage(`${prefix.replace(/\./g, '_')}SECRETS_EVENTS`, 2);
    const env = { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url };
    const running = await startTestService(auditService, env);
    service = running;
    const readiness = async () => {
      const response = await fetch(`http://127.0.0.1:${running.httpPort}/readyz`);
      return { status: response.status, ...((await response.json()) as { checks: Record<string, boolean> }) };
    };
    const metrics = async () => (await fetch(`http://127.0.0.1:${running.httpPort}/metrics`)).text();

    await eventually('the applier stopped at the hole', async () =>
      /^audit_stream_gap_missing_sequences\{service="audit"\} 1$/m.test(await metrics()),
    );
    expect(await readiness()).toMatchObject({ status: 503, checks: { secrets_events_complete: false } });
    expect(await metrics()).toMatch(/^audit_stream_gaps_total\{service="audit"\} 1$/m);
    const errors = running.logs.map((line) => JSON.parse(line) as { level: string; msg: string; from?: number });
    expect(errors).toContainEqual(
      expect.objectContaining({
        level: 'error',
        from: 2,
        msg: expect.stringMatching(/^SECRETS_EVENTS sequences were deleted/),
      }),
    );
    const sql = new Client({ connectionString: database.url });
    await sql.connect();
    try {
      const keys = async () =>
        (await sql.query('select key from audit.records order by sequence')).rows.map((r) => r.key);
      expect(await keys()).toEqual(['BEFORE']);

      // What ops run: `secrets audit gaps`, then `secrets audit acknowledge-gap 2 2 --by …`; every refusal first.
      const gaps = await runCli(auditGapsCommand, [], {}, env);
      expect(gaps).toEqual({
        code: 5,
        out: [expect.stringMatching(/^SECRETS_EVENTS 2: deleted from the stream, found /)],
      });
      const refusals: Array<[string[], Record<string, string>, number, RegExp]> = [
        [['2', '3'], { by: 'ops' }, 3, /^no gap 2-3 was recorded in SECRETS_EVENTS/],
        [['2', '2'], {}, 2, /^say who acknowledges/],
        [['2', 'x'], { by: 'ops' }, 2, /^to must be a stream sequence/],
        [['2'], { by: 'ops' }, 2, /^usage: secrets audit acknowledge-gap FROM TO --by WHO$/],
      ];
      for (const [args, values, code, message] of refusals) {
        await expect(runCli(auditAcknowledgeGapCommand, args, values, env)).rejects.toMatchObject({
          exitCode: code,
          message: expect.stringMatching(message),
        });
      }
      expect(await keys()).toEqual(['BEFORE']);
      expect(await runCli(auditAcknowledgeGapCommand, ['2', '2'], { by: 'ops ticket 1234' }, env)).toEqual({
        code: 0,
        out: [expect.stringMatching(/^SECRETS_EVENTS 2: acknowledged by ops ticket 1234 at /)],
      });
      await eventually('the applier moved past the acknowledged gap', async () => (await keys()).length === 2);
      expect(await keys()).toEqual(['BEFORE', 'AFTER']);
      expect(await readiness()).toMatchObject({ status: 200, checks: { secrets_events_complete: true } });
      expect(await metrics()).toMatch(/^audit_stream_gap_missing_sequences\{service="audit"\} 0$/m);
      const { rows } = await sql.query('select acknowledged_by from audit.stream_gaps');
      expect(rows).toEqual([{ acknowledged_by: 'ops ticket 1234' }]);
    } finally {
      await sql.end();
    }
  });
});
