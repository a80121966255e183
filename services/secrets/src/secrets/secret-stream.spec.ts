import {
  SECRET_ID_NAMESPACE,
  accessStreamId,
  organizationOfStream,
  parseSecretStreamId,
  secretId,
  secretStreamId,
  uuidV5,
} from './secret-stream';

describe('secret streams', () => {
  it('names a vendor-level and a customer stream, and reads them back', () => {
    const vendor = secretStreamId({ organizationId: 'acme', customerOrganizationId: null }, 'API_KEY');
    const customer = secretStreamId({ organizationId: 'acme', customerOrganizationId: 'globex' }, 'API_KEY');
    expect(vendor).toBe('secret:acme:_:API_KEY');
    expect(customer).toBe('secret:acme:globex:API_KEY');
    expect(parseSecretStreamId(vendor)).toEqual({
      scope: { organizationId: 'acme', customerOrganizationId: null },
      key: 'API_KEY',
    });
    expect(parseSecretStreamId(customer)?.scope.customerOrganizationId).toBe('globex');
    expect(parseSecretStreamId('access:acme:1')).toBeUndefined();
  });

  it('knows the organization of every stream kind it writes', () => {
    expect(organizationOfStream('secret:acme:_:K')).toBe('acme');
    expect(organizationOfStream(accessStreamId('acme', 'x'))).toBe('acme');
    expect(organizationOfStream('organization:acme')).toBe('acme');
    expect(organizationOfStream('other:acme')).toBeUndefined();
  });
});

describe('uuidV5', () => {
  it('matches the RFC 4122 / Python uuid.uuid5 vector for www.example.com in the DNS namespace', () => {
    expect(uuidV5('www.example.com', '6ba7b810-9dad-11d1-80b4-00c04fd430c8')).toBe(
      '2ed6657d-e927-568b-95e1-2665a8aea6a2',
    );
  });

  it('gives a secret a stable version-5 id derived from its stream', () => {
    const id = secretId('secret:acme:_:API_KEY');
    expect(id).toBe(uuidV5('secret:acme:_:API_KEY', SECRET_ID_NAMESPACE));
    expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(secretId('secret:acme:globex:API_KEY')).not.toBe(id);
  });
});
