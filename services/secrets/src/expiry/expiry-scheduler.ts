import { randomUUID } from 'node:crypto';
import { ConcurrencyError, type PostgresEventStore } from '@platform/event-store';
import { type Logger } from 'pino';
import { EXPIRY_ACTOR, type ExpiryNotice, dueNotices, expiryStreamId } from './expiry-notice';
import { ExpiryNoticesRepository } from './expiry-notices.repository';

/** Rows handled per scan; a longer backlog is taken up by the next scans. */
const SCAN_LIMIT = 500;

export interface ExpirySchedulerOptions {
  /** SECRETS_EXPIRY_LEAD_SECONDS, in ms: how long before the expiry SecretExpiring is appended. */
  readonly leadMs: number;
  /** SECRETS_EXPIRY_SCAN_SECONDS, in ms: how often this instance looks for notices due. */
  readonly scanIntervalMs: number;
  readonly clock?: () => Date;
}

export interface ScanReport {
  /** Notices this instance appended. */
  readonly appended: number;
  /** Appends another instance won first (nothing appended twice). */
  readonly lost: number;
}

/**
 * Appends `SecretExpiring` and `SecretExpired` (ARCHITECTURE.md §3, Expiry). Every instance scans; each notice goes to
 * its version's `expiry:` stream at a fixed expected version, so two instances racing for it append it once and the
 * loser's ConcurrencyError is the proof. The scan reads what is owed from the store, so a restart loses nothing: what
 * was due while every instance was down is appended by the first scan after.
 */
export class ExpiryScheduler {
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private readonly notices: ExpiryNoticesRepository;
  private readonly clock: () => Date;

  constructor(
    private readonly store: PostgresEventStore,
    private readonly options: ExpirySchedulerOptions,
    private readonly logger: Logger,
  ) {
    this.notices = new ExpiryNoticesRepository(store);
    this.clock = options.clock ?? (() => new Date());
  }

  start(): void {
    const tick = () => {
      this.running = this.scan()
        .catch((error: unknown) => this.logger.warn({ err: error }, 'expiry scan failed; retrying at the next scan'))
        .finally(() => {
          this.running = undefined;
          if (this.timer) this.timer = setTimeout(tick, this.options.scanIntervalMs).unref();
        });
    };
    this.timer = setTimeout(tick, 0).unref();
  }

  async stop(): Promise<void> {
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One pass: appends every notice owed now (up to SCAN_LIMIT versions). */
  async scan(): Promise<ScanReport> {
    const now = this.clock();
    let appended = 0;
    let lost = 0;
    for (const row of await this.notices.due(now, this.options.leadMs, SCAN_LIMIT)) {
      const types = dueNotices(row.expiresAt, row.noticesSent, now, this.options.leadMs);
      if (types.length === 0) continue;
      const scope = { organizationId: row.organizationId, customerOrganizationId: row.customerId || null };
      const data = { ...scope, key: row.key, version: row.version, expiresAt: row.expiresAt.toISOString() };
      const events: (ExpiryNotice & { eventId: string })[] = types.map((type) => ({
        type,
        data,
        metadata: { actor: EXPIRY_ACTOR, occurredAt: now.toISOString() },
        eventId: randomUUID(),
      }));
      try {
        // The outbox publishes them like every event; nobody waits for a notice.
        await this.store.appendToStream(expiryStreamId(scope, row.key, row.version), events, {
          expectedVersion: row.noticesSent,
        });
        appended += events.length;
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        lost++;
      }
    }
    if (appended > 0) this.logger.info({ appended, lost }, 'appended expiry notices');
    return { appended, lost };
  }
}
