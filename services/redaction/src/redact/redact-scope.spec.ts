import { type Principal, PlatformError, type Role, type ServiceScope } from '@platform/messaging';
import { redactScopeOf } from './redact-scope';

const vendorUser = (role: Role): Principal => ({ sub: 'u', org: 'acme', orgType: 'vendor', role });
const customerUser = (role: Role): Principal => ({
  sub: 'c',
  org: 'globex',
  orgType: 'customer',
  role,
  vendorOrg: 'acme',
});
const service = (...scopes: ServiceScope[]): Principal => ({
  sub: 'service:deploy',
  org: 'deploy',
  orgType: 'service',
  scopes: new Set(scopes),
});

function refusal(fn: () => unknown): { code: string; message: string } {
  try {
    fn();
  } catch (error) {
    if (error instanceof PlatformError) return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

const CUSTOMER_REFUSAL = {
  code: 'PERMISSION_DENIED',
  message: 'redaction.v1.redact is not open to customer users: it would confirm guessed values',
};

describe('redactScopeOf', () => {
  it('gives a read_write or admin vendor user its vendor-level scope, or one of its customers', () => {
    for (const role of ['read_write', 'admin'] as const) {
      expect(redactScopeOf(vendorUser(role), {})).toEqual({ organizationId: 'acme', customerOrganizationId: null });
      expect(redactScopeOf(vendorUser(role), { customerOrganizationId: 'globex' })).toEqual({
        organizationId: 'acme',
        customerOrganizationId: 'globex',
      });
    }
  });

  it('refuses a read_only vendor user, who may never see a value', () => {
    for (const request of [{}, { customerOrganizationId: 'globex' }]) {
      expect(refusal(() => redactScopeOf(vendorUser('read_only'), request))).toEqual({
        code: 'PERMISSION_DENIED',
        message: 'redaction.v1.redact needs the read_write or admin role: it would confirm guessed values',
      });
    }
  });

  it('refuses every customer user, whatever its role and whatever it names', () => {
    for (const role of ['read_only', 'read_write', 'admin'] as const) {
      expect(refusal(() => redactScopeOf(customerUser(role), {}))).toEqual(CUSTOMER_REFUSAL);
      expect(refusal(() => redactScopeOf(customerUser(role), { customerOrganizationId: 'globex' }))).toEqual(
        CUSTOMER_REFUSAL,
      );
      expect(refusal(() => redactScopeOf(customerUser(role), { customerOrganizationId: 'initech' }))).toEqual(
        CUSTOMER_REFUSAL,
      );
    }
  });

  it('refuses a vendor user naming another organization', () => {
    expect(refusal(() => redactScopeOf(vendorUser('admin'), { organizationId: 'umbrella' }))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'organizationId may only be named with a service token',
    });
  });

  it('gives a service with redaction:redact the organization it names', () => {
    expect(
      redactScopeOf(service('redaction:redact'), { organizationId: 'acme', customerOrganizationId: 'globex' }),
    ).toEqual({ organizationId: 'acme', customerOrganizationId: 'globex' });
  });

  it('refuses a service without redaction:redact, even one that may resolve every value, or without an organization', () => {
    expect(
      refusal(() =>
        redactScopeOf(service('secrets:resolve', 'secrets:resolve-all', 'render:any', 'audit:read'), {
          organizationId: 'acme',
        }),
      ),
    ).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'this subject needs a service token with scope redaction:redact',
    });
    expect(refusal(() => redactScopeOf(service('redaction:redact'), {}))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'organizationId is required with a service token',
    });
  });

  it('refuses identifiers that are not subject-safe', () => {
    expect(refusal(() => redactScopeOf(service('redaction:redact'), { organizationId: 'a.b' })).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(refusal(() => redactScopeOf(vendorUser('admin'), { customerOrganizationId: 'x y' })).code).toBe(
      'INVALID_ARGUMENT',
    );
  });
});
