import { AuditError, AuditErrorCode } from '../audit.error';
import { parseAuditEvent } from './audit-event';

const encode = (value: unknown) => new TextEncoder().encode(typeof value === 'string' ? value : JSON.stringify(value));

const event = {
  eventId: 'b1d4f0c2-6a4e-4f43-9d8e-0d3c7a1b2c3d',
  type: 'SecretValueUpdated',
  organizationId: 'acme',
  customerOrganizationId: 'globex',
  key: 'DB_PASSWORD',
  version: 2,
  actor: { sub: 'admin@acme', org: 'acme', role: 'admin' },
  occurredAt: '2026-01-01T12:00:00.123456Z',
  position: 42,
};

describe('parseAuditEvent', () => {
  it('keeps the contract fields and truncates the time to milliseconds', () => {
    expect(parseAuditEvent(encode(event))).toEqual({
      eventId: event.eventId,
      type: 'SecretValueUpdated',
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      key: 'DB_PASSWORD',
      version: 2,
      actor: { sub: 'admin@acme', org: 'acme', role: 'admin' },
      occurredAt: new Date('2026-01-01T12:00:00.123Z'),
      resolved: [],
    });
  });

  it('keeps who asked and the deployment of an access event, and leaves them out when absent', () => {
    const access = {
      ...event,
      type: 'SecretValuesResolved',
      key: null,
      actor: { sub: 'service:render', org: 'render', role: '' },
      resolved: [{ key: 'API_TOKEN', version: 3, scope: 'vendor' }],
    };
    expect(
      parseAuditEvent(
        encode({
          ...access,
          requestedBy: { sub: 'alice@acme', org: 'acme', role: 'read_write' },
          deploymentId: 'web-1',
        }),
      ),
    ).toMatchObject({ requestedBy: { sub: 'alice@acme', org: 'acme', role: 'read_write' }, deploymentId: 'web-1' });
    const plain = parseAuditEvent(encode(access));
    expect('requestedBy' in plain || 'deploymentId' in plain).toBe(false);
    expect(() => parseAuditEvent(encode({ ...access, deploymentId: 'a.b' }))).toThrow(
      'event field deploymentId is missing or malformed',
    );
    expect(() => parseAuditEvent(encode({ ...access, requestedBy: 'alice' }))).toThrow(
      'event field requestedBy is missing or malformed',
    );
  });

  it('drops fields outside the contract, such as a value or ciphertext', () => {
    const parsed = parseAuditEvent(
      encode({ ...event, value: 'hunter2', ciphertext: 'eyJ...', actor: { ...event.actor, token: 'jwt' } }),
    );
    expect(JSON.stringify(parsed)).not.toMatch(/hunter2|eyJ|jwt/);
  });

  it('reads vendor-level and access events', () => {
    const access = parseAuditEvent(
      encode({
        ...event,
        type: 'SecretValuesResolved',
        customerOrganizationId: null,
        key: undefined,
        version: 0,
        actor: { sub: 'service:render', org: 'render', role: '' },
        resolved: [{ key: 'API_TOKEN', version: 3, scope: 'vendor', value: 'leak' }],
      }),
    );
    expect(access).toMatchObject({
      customerOrganizationId: null,
      key: null,
      version: 0,
      actor: { role: '' },
      resolved: [{ key: 'API_TOKEN', version: 3, scope: 'vendor' }],
    });
  });

  it('keeps an event type it does not know yet (key rotations, later types), so nothing new goes unaudited', () => {
    const rotation = { ...event, type: 'DataKeyRotated', customerOrganizationId: null, key: null, version: undefined };
    expect(parseAuditEvent(encode(rotation))).toMatchObject({ type: 'DataKeyRotated', key: null, version: 0 });
    expect(parseAuditEvent(encode({ ...event, type: 'SomeFutureEvent' })).type).toBe('SomeFutureEvent');
  });

  it.each([
    ['not json', 'event is not UTF-8 JSON'],
    [[], 'event field (body) is missing or malformed'],
    [{ ...event, eventId: '' }, 'event field eventId is missing or malformed'],
    [{ ...event, eventId: 'EVT-1' }, 'event field eventId is missing or malformed'],
    [{ ...event, organizationId: 'acme.*' }, 'event field organizationId is missing or malformed'],
    [{ ...event, type: 'secret-created' }, 'event field type is missing or malformed'],
    [{ ...event, version: 1.5 }, 'event field version is missing or malformed'],
    [{ ...event, actor: null }, 'event field actor is missing or malformed'],
    [{ ...event, occurredAt: 'yesterday' }, 'event field occurredAt is missing or malformed'],
    [{ ...event, resolved: [{ key: 'A' }] }, 'event field scope is missing or malformed'],
  ])('rejects %j', (body, message) => {
    const attempt = () => parseAuditEvent(encode(body));
    expect(attempt).toThrow(AuditError);
    expect(attempt).toThrow(message);
    try {
      attempt();
    } catch (error) {
      expect((error as AuditError).code).toBe(AuditErrorCode.MALFORMED_EVENT);
    }
  });

  it('rejects bytes that are not UTF-8, and reads an event from the middle of a larger buffer', () => {
    const json = new TextEncoder().encode(JSON.stringify(event));
    const invalid = Uint8Array.from([...json.slice(0, 20), 0xff, ...json.slice(20)]);
    expect(() => parseAuditEvent(invalid)).toThrow('event is not UTF-8 JSON');
    const framed = new Uint8Array(json.length + 8);
    framed.set(json, 4);
    expect(parseAuditEvent(framed.subarray(4, 4 + json.length)).eventId).toBe(event.eventId);
  });
});
