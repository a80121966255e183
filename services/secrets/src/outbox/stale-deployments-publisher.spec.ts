import { type RecordedEvent } from '@platform/event-store';
import { STALE_PART_SIZE, staleMessages } from './stale-deployments-publisher';
import { type StaleDeploymentRow } from './stale-deployments.repository';

const metadata = { actor: { sub: 'alice@acme', org: 'acme', role: 'admin' }, occurredAt: '2026-01-02T03:04:05.678Z' };
const EVENT_ID = '6f1c1f9e-7d53-4f55-9c53-2a3f4bb0a001';

function recorded(streamId: string, streamVersion: number, type: string): RecordedEvent {
  return {
    streamId,
    streamVersion,
    type,
    data: { value: 'eyJhbGciOiJkaXIifQ..iv.ciphertext.tag', dataKeyId: 'k', digest: 'd' },
    metadata,
    eventId: EVENT_ID,
    position: 42n,
    transactionId: '1000',
    createdAt: new Date(),
  };
}

const row = (customer: string, deployment: string, version = 1): StaleDeploymentRow => ({
  customer_id: customer,
  deployment_id: deployment,
  received_version: version,
  rendered_ms: Date.parse('2026-01-01T00:00:00Z'),
});
const decode = (payload: Uint8Array) => JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;

describe('staleMessages', () => {
  it('publishes one message per customer of the stale deployments, on that customer’s subject, metadata only', () => {
    const event = recorded('secret:acme:_:DB_PASSWORD', 3, 'SecretValueUpdated');
    const messages = staleMessages(event, [row('', 'web', 2), row('globex', 'shop'), row('initech', 'api', 2)]);
    expect(messages.map((m) => [m.subject, m.msgId])).toEqual([
      ['deployments.events.acme._.stale', `${EVENT_ID}:_:1`],
      ['deployments.events.acme.globex.stale', `${EVENT_ID}:globex:1`],
      ['deployments.events.acme.initech.stale', `${EVENT_ID}:initech:1`],
    ]);
    expect(decode(messages[1].payload)).toEqual({
      eventId: EVENT_ID,
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      key: 'DB_PASSWORD',
      scope: 'vendor',
      version: 3,
      deleted: false,
      occurredAt: '2026-01-02T03:04:05.678Z',
      deployments: [{ deploymentId: 'shop', receivedVersion: 1, lastRenderedAt: '2026-01-01T00:00:00Z' }],
      part: 1,
      parts: 1,
    });
    expect(decode(messages[0].payload).customerOrganizationId).toBeNull();
    for (const message of messages) expect(new TextDecoder().decode(message.payload)).not.toContain('ciphertext');
  });

  it('marks a delete, and names a customer key by its scope', () => {
    const [message] = staleMessages(recorded('secret:acme:globex:API_KEY', 4, 'SecretDeleted'), [
      row('globex', 'shop'),
    ]);
    expect(decode(message.payload)).toMatchObject({ key: 'API_KEY', scope: 'customer', deleted: true, version: 4 });
  });

  it('splits a scope with many stale deployments into numbered parts', () => {
    const rows = Array.from({ length: STALE_PART_SIZE + 1 }, (_, i) => row('globex', `d${i}`));
    const messages = staleMessages(recorded('secret:acme:_:K', 2, 'SecretValueUpdated'), rows);
    expect(messages.map((m) => m.msgId)).toEqual([`${EVENT_ID}:globex:1`, `${EVENT_ID}:globex:2`]);
    expect(messages.map((m) => decode(m.payload)).map((m) => [m.part, m.parts, (m.deployments as []).length])).toEqual([
      [1, 2, STALE_PART_SIZE],
      [2, 2, 1],
    ]);
  });

  it('publishes nothing when no deployment is stale, or for a stream that is not a secret', () => {
    expect(staleMessages(recorded('secret:acme:_:K', 2, 'SecretValueUpdated'), [])).toEqual([]);
    expect(staleMessages(recorded('deployment:acme:_:web', 1, 'SecretDeleted'), [row('', 'web')])).toEqual([]);
  });
});
