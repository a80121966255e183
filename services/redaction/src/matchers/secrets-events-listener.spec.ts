import { matcherChangeOf } from './secrets-events-listener';

const event = (fields: Record<string, unknown>) => Buffer.from(JSON.stringify(fields));

describe('matcherChangeOf', () => {
  it('invalidates the customer scope on a change to a customer secret', () => {
    expect(
      matcherChangeOf(
        event({ type: 'SecretValueUpdated', organizationId: 'acme', customerOrganizationId: 'globex', key: 'K' }),
      ),
    ).toEqual({ kind: 'customer', organizationId: 'acme', customerOrganizationId: 'globex' });
  });

  it.each([
    ['null', { customerOrganizationId: null }],
    ['omitted', {}],
  ])('invalidates the whole organization on a vendor-level change (customer %s)', (_, customer) => {
    expect(matcherChangeOf(event({ type: 'SecretCreated', organizationId: 'acme', key: 'K', ...customer }))).toEqual({
      kind: 'organization',
      organizationId: 'acme',
    });
  });

  it('invalidates the whole organization on a purge', () => {
    expect(matcherChangeOf(event({ type: 'OrganizationPurged', organizationId: 'acme' }))).toEqual({
      kind: 'organization',
      organizationId: 'acme',
    });
  });

  it('ignores access events, which every resolve (its own included) appends', () => {
    expect(
      matcherChangeOf(event({ type: 'SecretValuesResolved', organizationId: 'acme', customerOrganizationId: 'g' })),
    ).toEqual({ kind: 'none' });
  });

  it.each(['DataKeyRotated', 'DataKeysRewrapped'])('ignores key management (%s): no value changes', (type) => {
    expect(matcherChangeOf(event({ type, organizationId: 'acme' }))).toEqual({ kind: 'none' });
  });

  it.each(['DeploymentForgotten', 'SecretExpiring', 'SecretExpired', 'SecretExposed'])(
    'ignores %s: no value changes (an exposure is this service reporting a masked value)',
    (type) => {
      expect(matcherChangeOf(event({ type, organizationId: 'acme', customerOrganizationId: 'g' }))).toEqual({
        kind: 'none',
      });
    },
  );

  it.each(['SecretRolledBack', 'SecretRestored'])('rebuilds the scope on %s: a value came back', (type) => {
    expect(matcherChangeOf(event({ type, organizationId: 'acme', customerOrganizationId: 'g' }))).toEqual({
      kind: 'customer',
      organizationId: 'acme',
      customerOrganizationId: 'g',
    });
  });

  it('treats a deletion like any change, and an unknown type too', () => {
    expect(
      matcherChangeOf(event({ type: 'SecretDeleted', organizationId: 'acme', customerOrganizationId: 'g' })),
    ).toEqual({ kind: 'customer', organizationId: 'acme', customerOrganizationId: 'g' });
    expect(matcherChangeOf(event({ type: 'SomethingNew', organizationId: 'acme' })).kind).toBe('organization');
  });

  it.each([
    ['not JSON', Buffer.from('{nope')],
    ['no type', event({ organizationId: 'acme' })],
    ['no organization', event({ type: 'SecretCreated' })],
    ['a bad organization', event({ type: 'SecretCreated', organizationId: 'a.b' })],
    ['JSON null', Buffer.from('null')],
  ])('invalidates everything when the event is unreadable (%s)', (_, payload) => {
    expect(matcherChangeOf(payload)).toEqual({ kind: 'everything' });
  });
});
