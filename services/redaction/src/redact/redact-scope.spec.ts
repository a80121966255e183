import { type Principal, PlatformError } from '@platform/messaging';
import { redactScopeOf } from './redact-scope';

const vendorUser: Principal = { sub: 'u', org: 'acme', orgType: 'vendor', role: 'read_only' };
const customerUser: Principal = { sub: 'c', org: 'globex', orgType: 'customer', role: 'read_only', vendorOrg: 'acme' };
const service = (...scopes: Array<'secrets:resolve' | 'secrets:resolve-all' | 'render:any'>): Principal => ({
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

describe('redactScopeOf', () => {
  it('gives a vendor user its vendor-level scope, or one of its customers', () => {
    expect(redactScopeOf(vendorUser, {})).toEqual({ organizationId: 'acme', customerOrganizationId: null });
    expect(redactScopeOf(vendorUser, { customerOrganizationId: 'globex' })).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
    });
  });

  it('gives a customer user its own scope in its vendor’s partition, and nothing else', () => {
    expect(redactScopeOf(customerUser, {})).toEqual({ organizationId: 'acme', customerOrganizationId: 'globex' });
    expect(redactScopeOf(customerUser, { organizationId: 'acme', customerOrganizationId: 'globex' })).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
    });
    expect(refusal(() => redactScopeOf(customerUser, { customerOrganizationId: 'initech' }))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'a customer can only address its own secrets',
    });
  });

  it('refuses a user naming another organization', () => {
    expect(refusal(() => redactScopeOf(vendorUser, { organizationId: 'umbrella' }))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'organizationId may only be named with a service token',
    });
  });

  it('gives a service with secrets:resolve-all the organization it names', () => {
    expect(
      redactScopeOf(service('secrets:resolve-all'), { organizationId: 'acme', customerOrganizationId: 'globex' }),
    ).toEqual({ organizationId: 'acme', customerOrganizationId: 'globex' });
  });

  it('refuses a service without secrets:resolve-all, or without an organization', () => {
    expect(refusal(() => redactScopeOf(service('secrets:resolve', 'render:any'), { organizationId: 'acme' }))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'this subject needs a service token with scope secrets:resolve-all',
    });
    expect(refusal(() => redactScopeOf(service('secrets:resolve-all'), {}))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'organizationId is required with a service token',
    });
  });

  it('refuses identifiers that are not subject-safe', () => {
    expect(refusal(() => redactScopeOf(service('secrets:resolve-all'), { organizationId: 'a.b' })).code).toBe(
      'INVALID_ARGUMENT',
    );
    expect(refusal(() => redactScopeOf(vendorUser, { customerOrganizationId: 'x y' })).code).toBe('INVALID_ARGUMENT');
  });
});
