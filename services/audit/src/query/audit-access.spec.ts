import { PlatformError, type Principal } from '@platform/messaging';
import { auditViewOf, chainOwnerOf } from './audit-access';
import { decodePageToken, encodePageToken } from './page-token';

const vendor = (role: 'read_only' | 'admin' = 'read_only'): Principal => ({
  sub: 'u',
  org: 'acme',
  orgType: 'vendor',
  role,
});
const customer: Principal = { sub: 'c', org: 'globex', orgType: 'customer', role: 'admin', vendorOrg: 'acme' };
const service: Principal = { sub: 'service:ops', org: 'ops', orgType: 'service', scopes: new Set(['audit:read']) };

function refusal(attempt: () => unknown): { code: string; message: string } {
  try {
    attempt();
  } catch (error) {
    if (error instanceof PlatformError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('audit tenancy', () => {
  it('gives a vendor user of any role its organization, optionally one customer', () => {
    expect(auditViewOf(vendor(), undefined)).toEqual({ organizationId: 'acme' });
    expect(auditViewOf(vendor(), 'globex')).toEqual({ organizationId: 'acme', customerOrganizationId: 'globex' });
  });

  it('gives a customer user only its own records in its vendor partition', () => {
    expect(auditViewOf(customer, undefined)).toEqual({ organizationId: 'acme', customerOrganizationId: 'globex' });
    expect(auditViewOf(customer, 'globex')).toEqual({ organizationId: 'acme', customerOrganizationId: 'globex' });
    expect(refusal(() => auditViewOf(customer, 'initech'))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'a customer can only read its own audit records',
    });
  });

  it('refuses service tokens, even with audit:read, and malformed customer ids', () => {
    expect(refusal(() => auditViewOf(service, undefined)).code).toBe('PERMISSION_DENIED');
    expect(refusal(() => auditViewOf(vendor(), 'a.b')).code).toBe('INVALID_ARGUMENT');
  });

  it('lets only vendor admins verify their chain', () => {
    expect(chainOwnerOf(vendor('admin'))).toBe('acme');
    for (const principal of [vendor('read_only'), customer, service]) {
      expect(refusal(() => chainOwnerOf(principal)).code).toBe('PERMISSION_DENIED');
    }
  });
});

describe('page tokens', () => {
  it('round-trip the last sequence and are not plain numbers', () => {
    const token = encodePageToken(123_456);
    expect(token).not.toContain('123456');
    expect(decodePageToken(token)).toBe(123_456);
  });

  it.each(['', '123', 'not a token', Buffer.from('audit.v1:-4').toString('base64url'), 'x'.repeat(100)])(
    'rejects %j',
    (token) => {
      expect(() => decodePageToken(token)).toThrow('pageToken is not a token this service issued');
    },
  );
});
