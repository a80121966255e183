import { deploymentRows, deploymentsFilter, referenceLabel } from './deployments.commands';

describe('secrets deployments', () => {
  it('turns the options into the request filters, and sends none that were not given', () => {
    expect(deploymentsFilter({})).toEqual({});
    expect(deploymentsFilter({ stale: true, key: 'DB_PASSWORD', customer: 'globex', deployment: 'web' })).toEqual({
      staleOnly: true,
      key: 'DB_PASSWORD',
      customerOrganizationId: 'globex',
      deploymentId: 'web',
    });
    expect(deploymentsFilter({ stale: false })).toEqual({});
  });

  it('shows what each key received, and what is newer or deleted', () => {
    expect(referenceLabel({ key: 'A', version: 2, scope: 'vendor', latestVersion: 2, deleted: false })).toBe('A v2');
    expect(referenceLabel({ key: 'A', version: 1, scope: 'vendor', latestVersion: 3, deleted: false })).toBe('A v1→v3');
    expect(referenceLabel({ key: 'A', version: 1, scope: 'vendor', latestVersion: 2, deleted: true })).toBe(
      'A v1 (deleted)',
    );
  });

  it('lists a vendor-level deployment under "vendor" and a stale one as such', () => {
    // As the wire has it: a vendor-level deployment's customer is null.
    const rows = deploymentRows([
      JSON.parse(
        JSON.stringify({
          deploymentId: 'web',
          customerOrganizationId: null,
          lastRenderedAt: '2026-12-06T10:00:00Z',
          requestedBy: { sub: 'admin@acme', org: 'acme', role: 'admin' },
          references: [{ key: 'A', version: 1, scope: 'vendor', latestVersion: 2, deleted: false }],
          stale: true,
        }),
      ) as Parameters<typeof deploymentRows>[0][number],
    ]);
    expect(rows).toEqual([['web', 'vendor', '2026-12-06T10:00:00Z', 'admin@acme', 'yes', 'A v1→v2']]);
  });
});
