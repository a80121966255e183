import { purgedOrganizationOf, shreddedBy } from './purge-listener';

const message = (fields: unknown) => Buffer.from(typeof fields === 'string' ? fields : JSON.stringify(fields));

describe('purgedOrganizationOf', () => {
  it('names the organization of an OrganizationPurged event', () => {
    expect(purgedOrganizationOf(message({ type: 'OrganizationPurged', organizationId: 'acme', key: null }))).toBe(
      'acme',
    );
  });

  it.each([
    ['another type', { type: 'SecretCreated', organizationId: 'acme' }],
    ['no organization', { type: 'OrganizationPurged' }],
    ['an organization that is no identifier', { type: 'OrganizationPurged', organizationId: 'a.b' }],
    ['not JSON', 'not json'],
    ['JSON null', 'null'],
  ])('names none for %s', (_label, fields) => {
    expect(purgedOrganizationOf(message(fields))).toBeUndefined();
  });
});

describe('shreddedBy', () => {
  it('names the customer of a CustomerPurged event', () => {
    expect(
      shreddedBy(message({ type: 'CustomerPurged', organizationId: 'acme', customerOrganizationId: 'globex' })),
    ).toEqual({ kind: 'customer', organizationId: 'acme', customerOrganizationId: 'globex' });
  });

  it('names the stream and versions of a SecretVersionsDestroyed event, vendor level or customer', () => {
    expect(
      shreddedBy(
        message({
          type: 'SecretVersionsDestroyed',
          organizationId: 'acme',
          customerOrganizationId: null,
          key: 'API_KEY',
          destroyedVersions: [1, 2],
        }),
      ),
    ).toEqual({ kind: 'versions', streamId: 'secret:acme:_:API_KEY', versions: [1, 2] });
    expect(
      shreddedBy(
        message({
          type: 'SecretVersionsDestroyed',
          organizationId: 'acme',
          customerOrganizationId: 'globex',
          key: 'API_KEY',
          destroyedVersions: [3],
        }),
      ),
    ).toEqual({ kind: 'versions', streamId: 'secret:acme:globex:API_KEY', versions: [3] });
  });

  it.each([
    ['a customer purge without a customer', { type: 'CustomerPurged', organizationId: 'acme' }],
    [
      'a customer that is no identifier',
      { type: 'CustomerPurged', organizationId: 'acme', customerOrganizationId: 'a:b' },
    ],
    [
      'a destruction of a key that is no key',
      { type: 'SecretVersionsDestroyed', organizationId: 'acme', key: 'a:b', destroyedVersions: [1] },
    ],
    ['a destruction without versions', { type: 'SecretVersionsDestroyed', organizationId: 'acme', key: 'API_KEY' }],
  ])('names nothing (so everything is forgotten) for %s', (_label, fields) => {
    expect(shreddedBy(message(fields))).toBeUndefined();
  });
});
