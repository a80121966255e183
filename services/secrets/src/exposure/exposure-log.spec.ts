import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { create } from '@bufbuild/protobuf';
import { ReportExposureRequestSchema } from '@platform/contracts';
import { PlatformError, type Principal } from '@platform/messaging';
import { SecretsError } from '../secrets/secrets.error';
import { assertExposureReporter, exposureDataOf } from './exposure-log';

const NOW = new Date('2026-01-02T03:04:05Z');
const request = (overrides: Record<string, unknown> = {}) =>
  create(ReportExposureRequestSchema, {
    organizationId: 'acme',
    customerOrganizationId: 'globex',
    deploymentId: 'shop',
    key: 'DB_PASSWORD',
    scope: 'vendor',
    version: 2,
    lineCount: 3,
    firstSeenAt: timestampFromDate(new Date('2026-01-02T03:00:00Z')),
    lastSeenAt: timestampFromDate(new Date('2026-01-02T03:01:00Z')),
    ...overrides,
  });
const service = (signedByService: string | undefined, scopes: string[]): Principal =>
  ({
    sub: 'service:redaction',
    org: 'redaction',
    orgType: 'service',
    scopes: new Set(scopes),
    ...(signedByService ? { signedByService } : {}),
  }) as Principal;

function refusal(run: () => unknown): { code: string; message: string } {
  try {
    run();
  } catch (error) {
    // The service's own errors, or the messaging library's (identifiers are checked there).
    if (error instanceof SecretsError || error instanceof PlatformError) {
      return { code: error.code, message: error.message };
    }
    throw error;
  }
  throw new Error('not refused');
}

describe('secrets.v1.reportexposure rules', () => {
  it('takes a report from redaction’s own key with its scope only', () => {
    expect(() => assertExposureReporter(service('redaction', ['secrets:report-exposure']))).not.toThrow();
    for (const principal of [
      service(undefined, ['secrets:report-exposure']),
      service('render', ['secrets:report-exposure']),
      service('redaction', ['secrets:resolve-all']),
      { sub: 'admin@acme', org: 'acme', orgType: 'vendor', role: 'admin' } as Principal,
    ]) {
      expect(refusal(() => assertExposureReporter(principal)).code).toBe('PERMISSION_DENIED');
    }
  });

  it('keeps the report’s metadata as the event’s data', () => {
    expect(exposureDataOf(request(), NOW)).toEqual({
      organizationId: 'acme',
      customerOrganizationId: 'globex',
      deploymentId: 'shop',
      key: 'DB_PASSWORD',
      scope: 'vendor',
      version: 2,
      lineCount: 3,
      firstSeenAt: '2026-01-02T03:00:00.000Z',
      lastSeenAt: '2026-01-02T03:01:00.000Z',
    });
  });

  it.each([
    ['a bad deployment id', { deploymentId: 'a.b' }, 'deploymentId'],
    ['an unknown scope', { scope: 'all' }, 'scope'],
    ['a customer key without the customer', { scope: 'customer', customerOrganizationId: undefined }, 'scope'],
    ['version 0', { version: 0 }, 'version'],
    ['no lines', { lineCount: 0 }, 'lineCount'],
    ['no first sighting', { firstSeenAt: undefined }, 'firstSeenAt'],
    [
      'a last sighting before the first',
      { lastSeenAt: timestampFromDate(new Date('2026-01-02T02:00:00Z')) },
      'lastSeenAt',
    ],
    ['a sighting in the future', { lastSeenAt: timestampFromDate(new Date('2026-01-02T03:10:00Z')) }, 'lastSeenAt'],
  ])('refuses %s with INVALID_ARGUMENT naming the field', (_, overrides, field) => {
    const refused = refusal(() => exposureDataOf(request(overrides), NOW));
    expect(refused.code).toBe('INVALID_ARGUMENT');
    expect(refused.message).toContain(field);
  });

  it('refuses a malformed key without quoting it', () => {
    const refused = refusal(() => exposureDataOf(request({ key: 'not a key' }), NOW));
    expect(refused.code).toBe('INVALID_KEY');
    expect(refused.message).not.toContain('not a key');
  });
});
