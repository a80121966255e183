import { type Principal, PlatformError } from '@platform/messaging';
import { RenderError } from './render.error';
import { renderScope } from './render-scope';

const vendor: Principal = { sub: 'u@acme', org: 'acme', orgType: 'vendor', role: 'read_only' };
const customer: Principal = {
  sub: 'u@globex',
  org: 'globex',
  orgType: 'customer',
  role: 'read_only',
  vendorOrg: 'acme',
};
const service = (...scopes: ('render:any' | 'secrets:resolve')[]): Principal => ({
  sub: 'service:deployer',
  org: 'deployer',
  orgType: 'service',
  scopes: new Set(scopes),
});

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    if (error instanceof RenderError || error instanceof PlatformError)
      return { code: error.code, message: error.message };
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('renderScope', () => {
  it('gives a vendor user its organization, with or without one of its customers', () => {
    expect(renderScope(vendor, {})).toEqual({ organizationId: 'acme', customerOrganizationId: null });
    expect(renderScope(vendor, { customerOrganizationId: 'globex' })).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
    });
  });

  it("gives a customer user its own secrets in its vendor partition and nothing else, not the vendor's", () => {
    expect(renderScope(customer, {})).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      customerOnly: true,
    });
    expect(refusal(() => renderScope(customer, { customerOrganizationId: 'initech' }))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'a customer can only address its own secrets',
    });
  });

  it('lets a user name organizationId only as its own vendor organization', () => {
    expect(renderScope(vendor, { organizationId: 'acme' }).organizationId).toBe('acme');
    expect(renderScope(customer, { organizationId: 'acme' }).customerOrganizationId).toBe('globex');
    const denied = {
      code: 'PERMISSION_DENIED',
      message: 'a user can only render its own organization; organizationId is for service tokens with render:any',
    };
    expect(refusal(() => renderScope(vendor, { organizationId: 'other' }))).toEqual(denied);
    expect(refusal(() => renderScope(customer, { organizationId: 'globex' }))).toEqual(denied);
  });

  it('lets a service with render:any render any organization it names', () => {
    expect(renderScope(service('render:any'), { organizationId: 'acme', customerOrganizationId: 'globex' })).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
    });
    expect(refusal(() => renderScope(service('render:any'), {}))).toEqual({
      code: 'INVALID_ARGUMENT',
      message: 'organizationId is required when a service renders (it names the vendor organization)',
    });
    expect(refusal(() => renderScope(service('secrets:resolve'), { organizationId: 'acme' }))).toEqual({
      code: 'PERMISSION_DENIED',
      message: 'rendering needs a service token with scope render:any',
    });
  });

  it('refuses identifiers that are not subject-safe', () => {
    expect(refusal(() => renderScope(service('render:any'), { organizationId: 'a.b' })).code).toBe('INVALID_ARGUMENT');
    expect(refusal(() => renderScope(vendor, { customerOrganizationId: 'x y' })).code).toBe('INVALID_ARGUMENT');
  });
});
