import { purgedOrganizationOf } from './purge-listener';

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
