import { DependencyError, PlatformError, type Scope } from '@platform/messaging';
import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';
import { ScopeMatchers, type SecretValuesSource } from './scope-matchers';

const vendor: Scope = { organizationId: 'acme', customerOrganizationId: null };
const globex: Scope = { organizationId: 'acme', customerOrganizationId: 'globex' };
const initech: Scope = { organizationId: 'acme', customerOrganizationId: 'initech' };
const other: Scope = { organizationId: 'umbrella', customerOrganizationId: null };

/** An in-memory secrets partition: values per scope key, vendor-level ones shared by the organization's customers. */
class FakeSecrets implements SecretValuesSource {
  readonly values = new Map<string, string[]>();
  loads = 0;
  down = false;
  /** Scopes (by key) whose values cannot be loaded for a reason of their own, e.g. a reply over max_payload. */
  readonly oversized = new Set<string>();
  /** Runs during the next load, after its values were read: a change that races the build. */
  duringNextLoad: (() => void) | undefined;

  add(scope: Scope, value: string): void {
    const key = `${scope.organizationId}/${scope.customerOrganizationId ?? '_'}`;
    this.values.set(key, [...(this.values.get(key) ?? []), value]);
  }

  async valuesOf(scope: Scope): Promise<string[]> {
    this.loads++;
    await Promise.resolve();
    if (this.down) throw new PlatformError('UNAVAILABLE', 'secrets service is unavailable');
    if (this.oversized.has(`${scope.organizationId}/${scope.customerOrganizationId ?? '_'}`)) {
      throw new DependencyError('secrets.v1.resolve', 'PAYLOAD_TOO_LARGE', 'the reply is too large');
    }
    const values = [
      ...(this.values.get(`${scope.organizationId}/_`) ?? []),
      ...(scope.customerOrganizationId
        ? (this.values.get(`${scope.organizationId}/${scope.customerOrganizationId}`) ?? [])
        : []),
    ];
    const race = this.duringNextLoad;
    this.duringNextLoad = undefined;
    race?.();
    return values;
  }
}

function setup(options: { maxAgeMs?: number; maxScopes?: number } = {}) {
  const secrets = new FakeSecrets();
  let now = 1_000_000;
  /** Background tasks the matchers scheduled, run by the test when it chooses. */
  const scheduled: { task: () => void; ms: number; cancelled: boolean }[] = [];
  const matchers = new ScopeMatchers({
    source: secrets,
    minLength: 4,
    maxAgeMs: options.maxAgeMs ?? 60_000,
    maxScopes: options.maxScopes,
    retryMinMs: 500,
    retryMaxMs: 4_000,
    clock: () => now,
    schedule: (task, ms) => {
      const timer = { task, ms, cancelled: false };
      scheduled.push(timer);
      return () => (timer.cancelled = true);
    },
  });
  const redact = async (scope: Scope, text: string) => (await matchers.matcherFor(scope)).redactText(text).output;
  const pending = () => scheduled.filter((timer) => !timer.cancelled);
  return { secrets, matchers, redact, pending, advance: (ms: number) => (now += ms) };
}

async function waitFor(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setImmediate(resolve));
}

async function refusal(promise: Promise<unknown>): Promise<RedactionServiceError> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof RedactionServiceError) return error;
    throw error;
  }
  throw new Error('expected a refusal');
}

describe('ScopeMatchers', () => {
  it('masks vendor-level values in every scope of the organization and customer values only in their own', async () => {
    const { secrets, redact } = setup();
    secrets.add(vendor, 'vendor-secret');
    secrets.add(globex, 'globex-secret');
    expect(await redact(globex, 'a vendor-secret b globex-secret')).toBe('a ******** b ********');
    expect(await redact(initech, 'a vendor-secret b globex-secret')).toBe('a ******** b globex-secret');
    expect(await redact(vendor, 'globex-secret')).toBe('globex-secret');
    expect(await redact(other, 'vendor-secret')).toBe('vendor-secret');
  });

  it('builds a scope once, however many ask for it at the same time', async () => {
    const { secrets, matchers } = setup();
    secrets.add(vendor, 'vendor-secret');
    const [a, b] = await Promise.all([matchers.matcherFor(vendor), matchers.matcherFor(vendor)]);
    expect(a).toBe(b);
    expect(await matchers.matcherFor(vendor)).toBe(a);
    expect(matchers.peek(vendor)).toBe(a);
    expect(secrets.loads).toBe(1);
  });

  it('rebuilds a customer scope on its invalidation and leaves the others cached', async () => {
    const { secrets, matchers, redact } = setup();
    await redact(globex, '');
    await redact(initech, '');
    secrets.add(globex, 'new-globex-secret');
    matchers.invalidateScope('acme', 'globex');
    expect(matchers.peek(globex)).toBeUndefined();
    expect(matchers.peek(initech)).toBeDefined();
    expect(await redact(globex, 'new-globex-secret')).toBe('********');
    expect(secrets.loads).toBe(3);
  });

  it('rebuilds every scope of an organization on a vendor-level change, not other organizations', async () => {
    const { matchers, redact } = setup();
    await Promise.all([redact(vendor, ''), redact(globex, ''), redact(other, '')]);
    matchers.invalidateOrganization('acme');
    expect(matchers.peek(vendor)).toBeUndefined();
    expect(matchers.peek(globex)).toBeUndefined();
    expect(matchers.peek(other)).toBeDefined();
    matchers.invalidateAll();
    expect(matchers.peek(other)).toBeUndefined();
  });

  it('builds again when a change arrives while the scope is being built', async () => {
    const { secrets, matchers, redact } = setup();
    secrets.duringNextLoad = () => {
      secrets.add(vendor, 'raced-secret');
      matchers.invalidateOrganization('acme');
    };
    expect(await redact(vendor, 'raced-secret')).toBe('********');
    expect(secrets.loads).toBe(2);
  });

  it('fails closed while the values cannot be loaded, retries with backoff, and recovers', async () => {
    const { secrets, matchers, redact, advance } = setup();
    secrets.add(vendor, 'vendor-secret');
    secrets.down = true;
    const first = await refusal(matchers.matcherFor(vendor));
    expect(first.code).toBe(RedactionServiceErrorCode.MATCHER_UNAVAILABLE);
    expect(first.retryAfterMs).toBe(500);
    expect(matchers.valuesUnavailable()).toBe(true);
    // Within the backoff the source is not asked again.
    expect((await refusal(matchers.matcherFor(vendor))).retryAfterMs).toBe(500);
    expect(secrets.loads).toBe(1);
    advance(500);
    expect((await refusal(matchers.matcherFor(vendor))).retryAfterMs).toBe(1_000);
    secrets.down = false;
    advance(1_000);
    expect(await redact(vendor, 'vendor-secret')).toBe('********');
    expect(matchers.valuesUnavailable()).toBe(false);
  });

  it("stays ready while one tenant's scope cannot be built, and refuses only that scope", async () => {
    const { secrets, matchers, redact } = setup();
    secrets.add(globex, 'globex-secret');
    secrets.oversized.add('acme/initech');
    const refused = await refusal(matchers.matcherFor(initech));
    expect(refused.code).toBe(RedactionServiceErrorCode.MATCHER_UNAVAILABLE);
    expect(matchers.valuesUnavailable()).toBe(false);
    expect(await redact(globex, 'globex-secret')).toBe('********');
    expect(matchers.valuesUnavailable()).toBe(false);
  });

  it('is ready again as soon as any build succeeds after the secrets service came back', async () => {
    const { secrets, matchers, redact } = setup();
    secrets.down = true;
    await refusal(matchers.matcherFor(vendor));
    expect(matchers.valuesUnavailable()).toBe(true);
    secrets.down = false;
    expect(await redact(other, 'nothing here')).toBe('nothing here');
    expect(matchers.valuesUnavailable()).toBe(false);
  });

  it('probes the failed scope in the background and is ready again without traffic', async () => {
    const { secrets, matchers, pending, advance } = setup();
    secrets.down = true;
    await refusal(matchers.matcherFor(vendor));
    expect(pending().map((timer) => timer.ms)).toEqual([500]);
    // A probe that fails schedules the next one with a longer backoff.
    advance(500);
    const first = pending()[0];
    first.cancelled = true;
    first.task();
    await waitFor(() => pending().length === 1);
    expect(pending()[0].ms).toBe(1_000);
    expect(matchers.valuesUnavailable()).toBe(true);
    secrets.down = false;
    advance(1_000);
    const second = pending()[0];
    second.cancelled = true;
    second.task();
    await waitFor(() => !matchers.valuesUnavailable());
    expect(pending()).toEqual([]);
    expect(secrets.loads).toBe(3);
  });

  it('stops probing once closed', async () => {
    const { secrets, matchers, pending } = setup();
    secrets.down = true;
    await refusal(matchers.matcherFor(vendor));
    expect(pending()).toHaveLength(1);
    matchers.close();
    expect(pending()).toEqual([]);
  });

  it('never serves an invalidated matcher while the rebuild fails', async () => {
    const { secrets, matchers, redact } = setup();
    await redact(vendor, '');
    secrets.down = true;
    matchers.invalidateOrganization('acme');
    await refusal(matchers.matcherFor(vendor));
    expect(matchers.peek(vendor)).toBeUndefined();
  });

  it('refreshes an ageing matcher in the background and refuses one past its maximum age', async () => {
    const { secrets, matchers, redact, advance } = setup({ maxAgeMs: 10_000 });
    await redact(vendor, '');
    advance(8_000);
    secrets.add(vendor, 'late-secret');
    expect(matchers.peek(vendor)).toBeDefined();
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    expect(secrets.loads).toBe(2);
    expect(await redact(vendor, 'late-secret')).toBe('********');

    secrets.down = true;
    advance(10_000);
    expect(matchers.peek(vendor)).toBeUndefined();
    await refusal(matchers.matcherFor(vendor));
  });

  it('keeps at most maxScopes, dropping the least recently used', async () => {
    const { matchers, redact, advance } = setup({ maxScopes: 2 });
    await redact(vendor, '');
    advance(1);
    await redact(globex, '');
    advance(1);
    matchers.peek(vendor);
    advance(1);
    await redact(initech, '');
    expect(matchers.cachedMatchers()).toBe(2);
    expect(matchers.peek(vendor)).toBeDefined();
    expect(matchers.peek(globex)).toBeUndefined();
  });

  it('counts values too short to be matched on their own', async () => {
    const { secrets, matchers } = setup();
    secrets.add(vendor, 'abc');
    secrets.add(vendor, 'long-enough');
    await matchers.matcherFor(vendor);
    expect(matchers.valuesBelowMinLength()).toBe(1);
  });
});
