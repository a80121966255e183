import { type ReportExposureRequestJson } from '@platform/contracts';
import { type Logger } from 'pino';
import { type LogSource } from '../logs/log-message';
import { type SeenReference } from './exposure-attribution';

/**
 * What became of a sighting's report: sent, kept for the next window after secrets did not take it, or dropped because
 * the windows it could open were all in use (a flood of distinct deployments cannot grow this process without bound).
 */
export type ExposureOutcome = 'reported' | 'retried' | 'dropped';

/** Windows open at once; beyond, a new (deployment, key, version) is not reported until one closes. */
export const MAX_OPEN_WINDOWS = 100_000;
/**
 * One organization's share of them: a tenant whose logs name endless deployments uses up its own share, not the
 * windows every other tenant's exposures need.
 */
export const MAX_OPEN_WINDOWS_PER_ORGANIZATION = 10_000;

interface Window {
  /** Whose share of the open windows it takes. */
  readonly organizationId: string;
  readonly report: Omit<ReportExposureRequestJson, 'lineCount' | 'firstSeenAt' | 'lastSeenAt'>;
  lines: number;
  firstSeenMs: number;
  lastSeenMs: number;
  cancel?: () => void;
}

export interface ExposureReporterOptions {
  /** Sends one report (`secrets.v1.reportexposure`); rejects when secrets did not record it. */
  readonly send: (report: ReportExposureRequestJson) => Promise<void>;
  /** REDACTION_EXPOSURE_WINDOW_SECONDS, in ms: at most one report per secret version and deployment per window. */
  readonly windowMs: number;
  readonly logger: Logger;
  readonly outcome?: (outcome: ExposureOutcome) => void;
  readonly clock?: () => number;
  /** Runs `task` after `ms`, returning a cancel function; defaults to an unref'd setTimeout. */
  readonly schedule?: (task: () => void, ms: number) => () => void;
}

/**
 * Gathers the secret versions seen in deployments' log lines into one report per (deployment, key, scope, version) per
 * window (ARCHITECTURE.md §8, "Exposure"): the first sighting opens a window, lines and last sighting accumulate, and
 * when it ends one report goes to secrets with the line count and first and last seen. A report secrets does not take
 * is kept and sent, merged, at the end of the next window. Metadata only: no value is ever held here.
 */
export class ExposureReporter {
  private readonly windows = new Map<string, Window>();
  /** Open windows per organization, for its share. */
  private readonly openPerOrganization = new Map<string, number>();
  private readonly clock: () => number;
  private readonly schedule: (task: () => void, ms: number) => () => void;
  private readonly sending = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly options: ExposureReporterOptions) {
    this.clock = options.clock ?? Date.now;
    this.schedule = options.schedule ?? unrefTimeout;
  }

  /** One log message of `source` showed each of `references`. */
  seen(source: LogSource, references: readonly SeenReference[], at = this.clock()): void {
    if (this.stopped) return;
    for (const reference of references) {
      const customer = source.scope.customerOrganizationId;
      const id = [
        source.scope.organizationId,
        customer ?? '_',
        source.deploymentId,
        reference.scope,
        reference.key,
        reference.version,
      ].join('/');
      let window = this.windows.get(id);
      if (!window) {
        if (!this.hasRoomFor(source.scope.organizationId)) {
          this.options.outcome?.('dropped');
          continue;
        }
        window = {
          organizationId: source.scope.organizationId,
          report: {
            organizationId: source.scope.organizationId,
            ...(customer === null ? {} : { customerOrganizationId: customer }),
            deploymentId: source.deploymentId,
            key: reference.key,
            scope: reference.scope,
            version: reference.version,
          },
          lines: 0,
          firstSeenMs: at,
          lastSeenMs: at,
        };
        this.open(id, window);
      }
      window.lines++;
      window.firstSeenMs = Math.min(window.firstSeenMs, at);
      window.lastSeenMs = Math.max(window.lastSeenMs, at);
    }
  }

  /** Stops opening windows and sends what is gathered now (shutdown), waiting for the sends under way. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [id, window] of this.windows) {
      window.cancel?.();
      this.close(id, window);
    }
    await Promise.allSettled([...this.sending]);
  }

  private hasRoomFor(organizationId: string): boolean {
    return (
      this.windows.size < MAX_OPEN_WINDOWS &&
      (this.openPerOrganization.get(organizationId) ?? 0) < MAX_OPEN_WINDOWS_PER_ORGANIZATION
    );
  }

  private open(id: string, window: Window): void {
    const { organizationId } = window;
    this.windows.set(id, window);
    this.openPerOrganization.set(organizationId, (this.openPerOrganization.get(organizationId) ?? 0) + 1);
    this.closeLater(id, window);
  }

  private closeLater(id: string, window: Window): void {
    window.cancel = this.schedule(() => this.close(id, window), this.options.windowMs);
  }

  private close(id: string, window: Window): void {
    if (this.windows.get(id) !== window) return;
    this.windows.delete(id);
    const { organizationId } = window;
    const open = (this.openPerOrganization.get(organizationId) ?? 1) - 1;
    if (open === 0) this.openPerOrganization.delete(organizationId);
    else this.openPerOrganization.set(organizationId, open);
    const report: ReportExposureRequestJson = {
      ...window.report,
      lineCount: window.lines,
      firstSeenAt: new Date(window.firstSeenMs).toISOString(),
      lastSeenAt: new Date(window.lastSeenMs).toISOString(),
    };
    const sent = this.options.send(report).then(
      () => this.options.outcome?.('reported'),
      (error: unknown) => {
        this.options.outcome?.('retried');
        this.options.logger.warn(
          { err: error, deploymentId: window.report.deploymentId, key: window.report.key },
          'secrets did not record an exposure report; it is sent again with the next window',
        );
        if (!this.stopped) this.keep(id, window);
      },
    );
    this.sending.add(sent);
    void sent.finally(() => this.sending.delete(sent));
  }

  /** A report that was not taken, merged into the window open for it now (or a new one). */
  private keep(id: string, window: Window): void {
    const open = this.windows.get(id);
    if (open) {
      open.lines += window.lines;
      open.firstSeenMs = Math.min(open.firstSeenMs, window.firstSeenMs);
      open.lastSeenMs = Math.max(open.lastSeenMs, window.lastSeenMs);
      return;
    }
    if (!this.hasRoomFor(window.organizationId)) {
      this.options.outcome?.('dropped');
      return;
    }
    this.open(id, { ...window, cancel: undefined });
  }
}

function unrefTimeout(task: () => void, ms: number): () => void {
  const timer = setTimeout(task, ms);
  timer.unref();
  return () => clearTimeout(timer);
}
