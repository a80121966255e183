// Issue 15, class 3: one tenant stores long periodic values and keeps sending the worst texts it may (runs of `a`, at
// the length limit and over it). Another tenant's redact and the service's /healthz must still answer promptly. The
// redaction service runs as its own process (npm run build first), so the bound measures its event loop, not ours.
import { randomBytes } from 'node:crypto';
import {
  type Reply,
  type TestDatabase,
  TestNatsClient,
  type TestService,
  TestTokens,
  createTestDatabase,
  releaseSubjectPrefix,
  startTestService,
  testInfrastructure,
  uniqueSubjectPrefix,
} from '@platform/testing';
import { secretsService } from '../../services/secrets/src/secrets.definition';
import { DEFAULT_MAX_TEXT_BYTES } from '../../services/redaction/src/redact/text-redaction';
import { ServiceProcess } from '../reliability/support/service-process';

const MASK = '********';
const run = randomBytes(3).toString('hex');
const ATTACKER = `mallory${run}`;
const VICTIM = `victim${run}`;
/** Generous on purpose: isolation is the property, not speed. Before the linear matcher one attack took seconds. */
const PROMPT_MS = 1_000;
const PROBES = 10;
/** Attack requests kept in flight at once: more than the attacker may run at once (4), so one always queues. */
const ATTACK_CONCURRENCY = 6;
/** The values costing the matcher most (issue 15): a long periodic one, and runs of `a` from 4 bytes to 64 KiB. */
const ATTACK_VALUES = ['a'.repeat(16 * 1024 - 1) + 'b', 'a'.repeat(4), 'a'.repeat(1024), 'a'.repeat(64 * 1024)];

async function timed<T>(call: () => Promise<T>): Promise<{ ms: number; result: T }> {
  const start = performance.now();
  const result = await call();
  return { ms: performance.now() - start, result };
}

describe('redaction isolation: one tenant’s worst redact does not stall the others', () => {
  const prefix = uniqueSubjectPrefix();
  let database: TestDatabase;
  let secrets: TestService;
  let redaction: ServiceProcess;
  let client: TestNatsClient;
  let tokens: TestTokens;
  const victimValue = `victim-${randomBytes(8).toString('hex')}`;

  beforeAll(async () => {
    database = await createTestDatabase();
    secrets = await startTestService(secretsService, { NATS_SUBJECT_PREFIX: prefix, DATABASE_URL: database.url });
    redaction = await ServiceProcess.start('redaction', {
      NATS_URL: testInfrastructure().natsUrl,
      NATS_SUBJECT_PREFIX: prefix,
      REDACTION_SETTLE_MS: '0',
    });
    client = await TestNatsClient.connect(prefix);
    tokens = await TestTokens.create();
    const attackerAdmin = await tokens.vendor(ATTACKER, 'admin');
    for (const [index, value] of ATTACK_VALUES.entries()) {
      const reply = await client.request(
        'secrets.v1.create',
        { key: `LONG_${index}`, value },
        { token: attackerAdmin },
      );
      expect(reply.status).toBeUndefined();
    }
    const victimAdmin = await tokens.vendor(VICTIM, 'admin');
    const reply = await client.request(
      'secrets.v1.create',
      { key: 'API_KEY', value: victimValue },
      { token: victimAdmin },
    );
    expect(reply.status).toBeUndefined();
  }, 120_000);

  afterAll(async () => {
    await client?.close();
    await redaction?.stop();
    await secrets?.close();
    await database?.drop();
    await releaseSubjectPrefix(prefix);
  });

  it('answers another tenant’s redact and /healthz within a second while the attack runs', async () => {
    const attacker = await tokens.vendor(ATTACKER, 'read_write');
    const victim = await tokens.vendor(VICTIM, 'read_write');
    const victimRedact = (): Promise<Reply> =>
      client.request('redaction.v1.redact', { text: `x ${victimValue} y` }, { token: victim, timeoutMs: 30_000 });
    const attack = (text: string): Promise<Reply> =>
      client.request('redaction.v1.redact', { text }, { token: attacker, timeoutMs: 60_000 });
    const longest = 'a'.repeat(DEFAULT_MAX_TEXT_BYTES);

    // Both matchers built, and the attacker's over-budget structures too, before anything is timed.
    expect((await victimRedact()).body).toEqual({ text: `x ${MASK} y`, redactions: 1 });
    expect((await attack(longest)).body).toEqual({ text: MASK, redactions: 1 });

    const outcomes = new Map<string, number>();
    let attacking = true;
    const attackers = Array.from({ length: ATTACK_CONCURRENCY }, async (_, lane) => {
      while (attacking) {
        // One lane sends more than the limit, the others exactly the limit.
        const reply = await attack(lane === 0 ? longest + 'a' : longest);
        const outcome = reply.status === undefined ? 'OK' : (reply.body.error as { code: string }).code;
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
      }
    });

    const victimMs: number[] = [];
    const healthMs: number[] = [];
    try {
      for (let probe = 0; probe < PROBES; probe++) {
        const redacted = await timed(victimRedact);
        expect(redacted.result.body).toEqual({ text: `x ${MASK} y`, redactions: 1 });
        victimMs.push(redacted.ms);
        const health = await timed(() => fetch(`http://127.0.0.1:${redaction.httpPort}/healthz`));
        expect(health.result.status).toBe(200);
        healthMs.push(health.ms);
      }
    } finally {
      attacking = false;
      await Promise.all(attackers);
    }

    expect(Math.max(...victimMs)).toBeLessThan(PROMPT_MS);
    expect(Math.max(...healthMs)).toBeLessThan(PROMPT_MS);
    // The attack really ran alongside: texts at the limit were masked, longer ones refused.
    expect(outcomes.get('OK')).toBeGreaterThan(0);
    expect(outcomes.get('PAYLOAD_TOO_LARGE')).toBeGreaterThan(0);
    const expected = ['OK', 'PAYLOAD_TOO_LARGE', 'RESOURCE_EXHAUSTED'];
    expect([...outcomes.keys()].filter((outcome) => !expected.includes(outcome))).toEqual([]);
  }, 180_000);
});
