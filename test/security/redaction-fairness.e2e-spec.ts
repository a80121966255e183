// Issue 15: one tenant flooding redaction.v1.redact must queue only its own requests. The flood gets RESOURCE_EXHAUSTED
// past its organization's caps; another organization's request, sent during the flood, is answered.
import { randomBytes } from 'node:crypto';
import { type Reply, TestNatsClient, TestTokens } from '@platform/testing';
import { type SecretsAndRedaction, startSecretsAndRedaction } from './support/secrets-and-redaction';

const MASK = '********';
const run = randomBytes(3).toString('hex');
const FLOODER = `flood${run}`;
const NEIGHBOUR = `quiet${run}`;
const FLOOD_REQUESTS = 12;
/** Each request holds its organization's one place this long, so the flood's later requests find the queue full. */
const SETTLE_MS = '3000';
const REFUSAL =
  'too many redact requests from this organization: at most 1 in flight (REDACTION_MAX_IN_FLIGHT_PER_ORG) ' +
  'and 2 queued (REDACTION_MAX_QUEUED_PER_ORG); retry later';

describe('redact fairness between organizations', () => {
  let platform: SecretsAndRedaction;
  let client: TestNatsClient;
  let tokens: TestTokens;
  const values = new Map<string, string>();

  beforeAll(async () => {
    platform = await startSecretsAndRedaction({
      REDACTION_SETTLE_MS: SETTLE_MS,
      REDACTION_MAX_IN_FLIGHT_PER_ORG: '1',
      REDACTION_MAX_QUEUED_PER_ORG: '2',
    });
    client = platform.client;
    tokens = platform.tokens;
    for (const org of [FLOODER, NEIGHBOUR]) {
      const value = `${org}-${randomBytes(8).toString('hex')}`;
      values.set(org, value);
      const reply = await client.request(
        'secrets.v1.create',
        { key: 'API_KEY', value },
        { token: await tokens.vendor(org, 'admin') },
      );
      expect(reply.status).toBeUndefined();
    }
  });

  afterAll(() => platform?.close());

  const redact = async (org: string): Promise<Reply> =>
    client.request(
      'redaction.v1.redact',
      { text: `key ${values.get(org)} end` },
      { token: await tokens.vendor(org, 'read_write'), timeoutMs: 60_000 },
    );

  it('refuses the flood past its caps with RESOURCE_EXHAUSTED and still answers another organization', async () => {
    const floodToken = await tokens.vendor(FLOODER, 'read_write');
    const flood = Array.from({ length: FLOOD_REQUESTS }, () =>
      client.request(
        'redaction.v1.redact',
        { text: `key ${values.get(FLOODER)} end` },
        { token: floodToken, timeoutMs: 60_000 },
      ),
    );
    const neighbour = await redact(NEIGHBOUR);
    expect(neighbour.body).toEqual({ text: `key ${MASK} end`, redactions: 1 });

    const replies = await Promise.all(flood);
    const refused = replies.filter((reply) => reply.status !== undefined);
    const answered = replies.filter((reply) => reply.status === undefined);
    expect(refused.length).toBeGreaterThan(0);
    for (const reply of refused) {
      expect({ status: reply.status, body: reply.body }).toEqual({
        status: 429,
        body: { error: { code: 'RESOURCE_EXHAUSTED', message: REFUSAL } },
      });
    }
    expect(answered.length).toBeGreaterThan(0);
    for (const reply of answered) expect(reply.body).toEqual({ text: `key ${MASK} end`, redactions: 1 });

    const metrics = await (await fetch(`http://127.0.0.1:${platform.redaction.httpPort}/metrics`)).text();
    expect(metrics).toMatch(new RegExp(`^redaction_requests_refused_total\\{[^}]*\\} ${refused.length}$`, 'm'));
  });

  it('answers the flooding organization again once its queue has drained', async () => {
    expect((await redact(FLOODER)).body).toEqual({ text: `key ${MASK} end`, redactions: 1 });
  });
});
