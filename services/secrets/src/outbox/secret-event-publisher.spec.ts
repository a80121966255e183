import { type RecordedEvent } from '@platform/event-store';
import { secretEventMessage } from './secret-event-publisher';

const metadata = { actor: { sub: 'alice@acme', org: 'acme', role: 'admin' }, occurredAt: '2026-01-02T03:04:05.678Z' };

function recorded(streamId: string, streamVersion: number, type: string, data: unknown): RecordedEvent {
  return {
    streamId,
    streamVersion,
    type,
    data,
    metadata,
    eventId: '6f1c1f9e-7d53-4f55-9c53-2a3f4bb0a001',
    position: 42n,
    transactionId: '1000',
    createdAt: new Date(),
  };
}

const decode = (payload: Uint8Array) => JSON.parse(new TextDecoder().decode(payload)) as Record<string, unknown>;

describe('secretEventMessage', () => {
  it('publishes a secret event as metadata only, addressed by organization and type (no digest before #16)', () => {
    const event = recorded('secret:acme:globex:API_KEY', 1, 'SecretCreated', {
      key: 'API_KEY',
      scope: { organizationId: 'acme', customerOrganizationId: 'globex' },
      value: 'eyJhbGciOiJkaXIifQ..iv.ciphertext.tag',
      dataKeyId: 'b0a7c9e2-0000-4000-8000-000000000001',
    });
    const { subject, payload } = secretEventMessage(event);
    expect(subject).toBe('secrets.events.acme.SecretCreated');
    expect(decode(payload)).toEqual({
      eventId: event.eventId,
      type: 'SecretCreated',
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      key: 'API_KEY',
      version: 1,
      actor: metadata.actor,
      occurredAt: '2026-01-02T03:04:05.678Z',
      position: 42,
      resolved: [],
      destroyedVersions: [],
    });
    expect(new TextDecoder().decode(payload)).not.toContain('ciphertext');
  });

  it('reads the scope of updates and deletes from the stream id; vendor-level is null', () => {
    const digest = 'ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0';
    const updated = decode(
      secretEventMessage(
        recorded('secret:acme:_:DB_URL', 3, 'SecretValueUpdated', { value: 'jwe', dataKeyId: 'k', digest }),
      ).payload,
    );
    expect(updated).toMatchObject({
      organizationId: 'acme',
      customerOrganizationId: null,
      key: 'DB_URL',
      version: 3,
      valueDigest: digest,
    });
    expect(JSON.stringify(updated)).not.toContain('jwe');
  });

  it('publishes access events with the released references and no key; a service actor has an empty role', () => {
    const event = {
      ...recorded('access:acme:8e0f', 1, 'SecretValuesResolved', {
        organizationId: 'acme',
        customerOrganizationId: 'globex',
        resolved: [{ key: 'API_KEY', version: 2, scope: 'customer' }],
        historyValues: 0,
      }),
      metadata: { actor: { sub: 'service:render', org: 'render', role: 'service' }, occurredAt: metadata.occurredAt },
    };
    const { subject, payload } = secretEventMessage(event);
    expect(subject).toBe('secrets.events.acme.SecretValuesResolved');
    expect(decode(payload)).toMatchObject({
      key: null,
      customerOrganizationId: 'globex',
      actor: { sub: 'service:render', org: 'render', role: '' },
      resolved: [{ key: 'API_KEY', version: 2, scope: 'customer' }],
    });
  });

  it('publishes who asked and the deployment of an access event, and neither when the event has none', () => {
    const access = (data: Record<string, unknown>) => ({
      ...recorded('access:acme:8e0f', 1, 'SecretValuesResolved', {
        organizationId: 'acme',
        customerOrganizationId: null,
        resolved: [{ key: 'API_KEY', version: 2, scope: 'vendor' }],
        historyValues: 0,
        ...data,
      }),
      metadata: { actor: { sub: 'service:render', org: 'render', role: 'service' }, occurredAt: metadata.occurredAt },
    });
    const attributed = decode(
      secretEventMessage(
        access({ deploymentId: 'web-1', requestedBy: { sub: 'service:deployer', org: 'deployer', role: 'service' } }),
      ).payload,
    );
    expect(attributed).toMatchObject({
      actor: { sub: 'service:render', org: 'render', role: '' },
      requestedBy: { sub: 'service:deployer', org: 'deployer', role: '' },
      deploymentId: 'web-1',
    });
    const plain = decode(secretEventMessage(access({})).payload);
    expect('requestedBy' in plain || 'deploymentId' in plain).toBe(false);
  });

  it('publishes an organization purge', () => {
    const { subject, payload } = secretEventMessage(
      recorded('organization:acme', 1, 'OrganizationPurged', { organizationId: 'acme', dataKeysDeleted: 2 }),
    );
    expect(subject).toBe('secrets.events.acme.OrganizationPurged');
    expect(decode(payload)).toMatchObject({ organizationId: 'acme', customerOrganizationId: null, key: null });
  });

  it("publishes a destruction of values under its secret's key and scope, with the versions destroyed", () => {
    const { subject, payload } = secretEventMessage(
      recorded('destroyed:acme:globex:API_KEY', 1, 'SecretVersionsDestroyed', {
        organizationId: 'acme',
        customerOrganizationId: 'globex',
        key: 'API_KEY',
        versions: [1, 2],
      }),
    );
    expect(subject).toBe('secrets.events.acme.SecretVersionsDestroyed');
    expect(decode(payload)).toMatchObject({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      key: 'API_KEY',
      destroyedVersions: [1, 2],
    });
  });

  it('publishes a customer purge under the customer it shredded', () => {
    const { subject, payload } = secretEventMessage(
      recorded('customer:acme:globex', 1, 'CustomerPurged', {
        organizationId: 'acme',
        customerOrganizationId: 'globex',
        dataKeysDeleted: 1,
      }),
    );
    expect(subject).toBe('secrets.events.acme.CustomerPurged');
    expect(decode(payload)).toMatchObject({ organizationId: 'acme', customerOrganizationId: 'globex', key: null });
  });
});
