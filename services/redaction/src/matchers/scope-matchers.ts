import { type RedactionMatcher, buildMatcher } from '@platform/redaction';
import { DependencyError, PlatformError, type Scope } from '@platform/messaging';
import { type AttributedValue, ExposureAttribution } from '../exposure/exposure-attribution';
import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';

/** Where a scope's values come from: every value, current and earlier versions, until purged. */
export interface SecretValuesSource {
  valuesOf(scope: Scope): Promise<string[]>;
  /** The same values with key, version and scope, when the source knows them: masked spans can then be attributed. */
  attributedValuesOf?(scope: Scope): Promise<AttributedValue[]>;
}

/** Told about every build, for metrics and logs. */
export interface MatcherObserver {
  matcherBuilt(seconds: number): void;
  matcherFailed(): void;
  invalidated(): void;
}

export interface ScopeMatchersOptions {
  readonly source: SecretValuesSource;
  readonly minLength: number;
  /** A matcher older than this is rebuilt before it is used again: a safety net should a change event be missed. */
  readonly maxAgeMs: number;
  /** Scopes kept; the least recently used is dropped beyond this. */
  readonly maxScopes?: number;
  /** First and longest wait before a scope whose build failed is tried again. */
  readonly retryMinMs?: number;
  readonly retryMaxMs?: number;
  readonly observer?: MatcherObserver;
  readonly onBuildFailure?: (scope: Scope, error: unknown) => void;
  readonly clock?: () => number;
  /** Runs `task` after `ms`, returning a cancel function; defaults to an unref'd setTimeout. */
  readonly schedule?: (task: () => void, ms: number) => () => void;
}

interface ScopeEntry {
  readonly scope: Scope;
  matcher?: RedactionMatcher;
  builtAt: number;
  /** Bumped by every invalidation; the matcher is current only if built at the latest generation. */
  generation: number;
  builtGeneration: number;
  building?: Promise<void>;
  failures: number;
  /** While failing: no new build before this time. */
  retryAt: number;
}

/** A refresh starts in the background once a matcher has lived this share of its maximum age. */
const REFRESH_AT = 0.75;
/** Builds in a row while changes keep arriving before the newest matcher is used anyway. */
const MAX_BUILD_ROUNDS = 3;
/** A failure to load values counts against readiness for this long, unless a build succeeds meanwhile. */
const FAILING_WINDOW_MS = 60_000;

/**
 * Whether a build failed because values cannot be loaded at all right now (secrets or NATS unavailable), rather than
 * because of the scope itself (a reply over max_payload, too many values for one matcher): only the first says
 * anything about this instance's readiness. A tenant whose own scope cannot be built must not make the service
 * unready for everyone.
 */
function isDependencyFailure(error: unknown): boolean {
  if (error instanceof PlatformError) return error.code === 'UNAVAILABLE';
  if (error instanceof DependencyError) return error.code === 'UNAVAILABLE' || error.code === 'INTERNAL';
  return false;
}

export function scopeKey(scope: Scope): string {
  return `${scope.organizationId}/${scope.customerOrganizationId ?? '_'}`;
}

/**
 * One matcher per scope `(org, customer|null)`, built from the scope's values and cached until a change event
 * invalidates it or it ages out. A scope whose matcher cannot be built is refused (fail closed), never served
 * from an invalidated matcher; it is retried with backoff.
 */
export class ScopeMatchers {
  private readonly entries = new Map<string, ScopeEntry & { wantedAt: number }>();
  /** Each matcher's attribution, when its source named the values; dropped with the matcher. */
  private readonly attributions = new WeakMap<RedactionMatcher, ExposureAttribution>();
  private readonly clock: () => number;
  private readonly maxScopes: number;
  private readonly retryMinMs: number;
  private readonly retryMaxMs: number;
  private readonly schedule: (task: () => void, ms: number) => () => void;
  private lastDependencyFailureAt = -Infinity;
  private lastBuildAt = -Infinity;
  private cancelRecovery: (() => void) | undefined;
  private closed = false;

  constructor(private readonly options: ScopeMatchersOptions) {
    this.clock = options.clock ?? Date.now;
    this.schedule = options.schedule ?? unrefTimeout;
    this.maxScopes = options.maxScopes ?? 1_000;
    this.retryMinMs = options.retryMinMs ?? 500;
    this.retryMaxMs = options.retryMaxMs ?? 5_000;
  }

  /** The scope's current matcher, built first if needed; RedactionServiceError MATCHER_UNAVAILABLE if it cannot be. */
  async matcherFor(scope: Scope): Promise<RedactionMatcher> {
    const entry = this.entryOf(scope);
    for (let round = 0; round < MAX_BUILD_ROUNDS; round++) {
      const current = this.currentMatcher(entry);
      if (current) return current;
      const now = this.clock();
      if (!entry.building && entry.retryAt > now) throw this.unavailable(entry.retryAt - now);
      await this.build(entry);
    }
    // Changes kept arriving while building; the newest matcher holds every value committed before its load began.
    const newest = entry.matcher;
    if (!newest) throw this.unavailable(this.retryMinMs);
    return newest;
  }

  /** The scope's matcher if it is current, without building; the hot path of every batch. */
  peek(scope: Scope): RedactionMatcher | undefined {
    const entry = this.entries.get(scopeKey(scope));
    if (!entry) return undefined;
    entry.wantedAt = this.clock();
    return this.currentMatcher(entry);
  }

  /** Which secret versions a span masked by `matcher` showed; undefined when its source did not name its values. */
  attributionOf(matcher: RedactionMatcher): ExposureAttribution | undefined {
    return this.attributions.get(matcher);
  }

  /** A change to a customer's secrets: that customer's scope only. */
  invalidateScope(organizationId: string, customerOrganizationId: string): void {
    const entry = this.entries.get(scopeKey({ organizationId, customerOrganizationId }));
    if (entry) entry.generation++;
    this.options.observer?.invalidated();
  }

  /** A change to vendor-level secrets (or a purge): every scope of the organization. */
  invalidateOrganization(organizationId: string): void {
    for (const entry of this.entries.values()) {
      if (entry.scope.organizationId === organizationId) entry.generation++;
    }
    this.options.observer?.invalidated();
  }

  /** When a change cannot be attributed to a scope. */
  invalidateAll(): void {
    for (const entry of this.entries.values()) entry.generation++;
    this.options.observer?.invalidated();
  }

  /**
   * Whether values could not be loaded recently and no build has succeeded since: readiness is false meanwhile.
   * Scope-specific failures are counted in metrics and logged, but never make this true (isDependencyFailure).
   */
  valuesUnavailable(): boolean {
    const failedAt = this.lastDependencyFailureAt;
    return failedAt > this.lastBuildAt && this.clock() - failedAt < FAILING_WINDOW_MS;
  }

  /** Stops the background recovery probe (service shutdown). */
  close(): void {
    this.closed = true;
    this.cancelRecovery?.();
    this.cancelRecovery = undefined;
  }

  cachedMatchers(): number {
    let cached = 0;
    for (const entry of this.entries.values()) if (entry.matcher) cached++;
    return cached;
  }

  valuesBelowMinLength(): number {
    let below = 0;
    for (const entry of this.entries.values()) below += entry.matcher?.stats.valuesBelowMinLength ?? 0;
    return below;
  }

  private entryOf(scope: Scope): ScopeEntry & { wantedAt: number } {
    const key = scopeKey(scope);
    let entry = this.entries.get(key);
    if (!entry) {
      entry = { scope, builtAt: 0, generation: 0, builtGeneration: -1, failures: 0, retryAt: 0, wantedAt: 0 };
      if (this.entries.size >= this.maxScopes) this.evictLeastRecentlyWanted();
      this.entries.set(key, entry);
    }
    entry.wantedAt = this.clock();
    return entry;
  }

  private evictLeastRecentlyWanted(): void {
    let oldest: string | undefined;
    let oldestAt = Infinity;
    for (const [key, entry] of this.entries) {
      if (entry.wantedAt < oldestAt) [oldest, oldestAt] = [key, entry.wantedAt];
    }
    if (oldest !== undefined) this.entries.delete(oldest);
  }

  private currentMatcher(entry: ScopeEntry): RedactionMatcher | undefined {
    if (!entry.matcher || entry.builtGeneration !== entry.generation) return undefined;
    const now = this.clock();
    const age = now - entry.builtAt;
    if (age >= this.options.maxAgeMs) return undefined;
    if (age >= this.options.maxAgeMs * REFRESH_AT && !entry.building && entry.retryAt <= now) {
      // Refreshed ahead of time so traffic never waits for a routine rebuild; failures are counted and retried.
      this.build(entry).catch(() => undefined);
    }
    return entry.matcher;
  }

  private build(entry: ScopeEntry): Promise<void> {
    entry.building ??= this.load(entry).finally(() => {
      entry.building = undefined;
    });
    return entry.building;
  }

  private async load(entry: ScopeEntry): Promise<void> {
    const generation = entry.generation;
    const startedAt = this.clock();
    const started = performance.now();
    try {
      const { source, minLength } = this.options;
      const attributed = source.attributedValuesOf ? await source.attributedValuesOf(entry.scope) : undefined;
      const values = attributed ? attributed.map((value) => value.value) : await source.valuesOf(entry.scope);
      const matcher = buildMatcher(values, { minLength });
      if (attributed) this.attributions.set(matcher, new ExposureAttribution(attributed, minLength));
      entry.matcher = matcher;
      entry.builtAt = startedAt;
      entry.builtGeneration = generation;
      entry.failures = 0;
      entry.retryAt = 0;
      this.lastBuildAt = this.clock();
      this.options.observer?.matcherBuilt((performance.now() - started) / 1000);
    } catch (error) {
      entry.failures++;
      const delay = Math.min(this.retryMaxMs, this.retryMinMs * 2 ** (entry.failures - 1));
      entry.retryAt = this.clock() + delay;
      if (isDependencyFailure(error)) {
        this.lastDependencyFailureAt = this.clock();
        this.probeAfter(entry, delay);
      }
      this.options.observer?.matcherFailed();
      this.options.onBuildFailure?.(entry.scope, error);
      throw this.unavailable(delay);
    }
  }

  /**
   * While values cannot be loaded, the scope that failed last is built again in the background after its backoff,
   * with traffic or without, so readiness comes back as soon as the secrets service does rather than at the end of
   * the failing window. One probe at a time; each failed probe schedules the next with a longer backoff.
   */
  private probeAfter(entry: ScopeEntry, delayMs: number): void {
    if (this.closed) return;
    this.cancelRecovery?.();
    this.cancelRecovery = this.schedule(() => {
      this.cancelRecovery = undefined;
      if (this.closed || !this.valuesUnavailable() || entry.building) return;
      this.build(entry).catch(() => undefined);
    }, delayMs);
  }

  private unavailable(retryAfterMs: number): RedactionServiceError {
    return new RedactionServiceError(
      RedactionServiceErrorCode.MATCHER_UNAVAILABLE,
      'the matcher for this scope cannot be built',
      retryAfterMs,
    );
  }
}

function unrefTimeout(task: () => void, ms: number): () => void {
  const timer = setTimeout(task, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
