import { RedactionServiceError, RedactionServiceErrorCode } from '../redaction.error';

export interface RedactAdmissionLimits {
  /** Requests of one organization running at once (REDACTION_MAX_IN_FLIGHT_PER_ORG). */
  readonly maxInFlightPerOrganization: number;
  /** Requests of every organization running at once (REDACTION_MAX_IN_FLIGHT). */
  readonly maxInFlight: number;
  /** Requests of one organization waiting for a turn; one more is refused (REDACTION_MAX_QUEUED_PER_ORG). */
  readonly maxQueuedPerOrganization: number;
}

/** One organization's share: its requests running, and those waiting for a turn in arrival order. */
interface OrganizationShare {
  running: number;
  readonly waiting: Array<() => void>;
}

/**
 * Redact work admitted per calling organization, so a tenant that floods `redaction.v1.redact` queues only its own
 * requests: each organization runs at most its cap at once and queues a bounded number more (RESOURCE_EXHAUSTED
 * past that); when a place frees, organizations with waiting work take turns (round-robin), whatever their backlog.
 */
export class RedactAdmission {
  private readonly shares = new Map<string, OrganizationShare>();
  /** Organizations with waiting work, the next to be served first. */
  private readonly turns: string[] = [];
  private running = 0;

  constructor(
    private readonly limits: RedactAdmissionLimits,
    /** Told of every refusal, for metrics. */
    private readonly onRefused: () => void = () => undefined,
  ) {}

  /** Runs `work` once `organization` has a turn; RESOURCE_EXHAUSTED at once when its queue is full. */
  async run<T>(organization: string, work: () => Promise<T>): Promise<T> {
    const share = this.shareOf(organization);
    if (share.waiting.length === 0 && this.hasRoom(share)) {
      this.start(share);
    } else if (share.waiting.length >= this.limits.maxQueuedPerOrganization) {
      this.onRefused();
      throw this.exhausted();
    } else {
      await new Promise<void>((resolve) => {
        share.waiting.push(resolve);
        if (share.waiting.length === 1) this.turns.push(organization);
      });
    }
    try {
      return await work();
    } finally {
      share.running--;
      this.running--;
      this.forgetIfIdle(organization, share);
      this.serveTurns();
    }
  }

  /** Requests waiting for a turn, every organization together. */
  queued(): number {
    let queued = 0;
    for (const share of this.shares.values()) queued += share.waiting.length;
    return queued;
  }

  inFlight(): number {
    return this.running;
  }

  private shareOf(organization: string): OrganizationShare {
    let share = this.shares.get(organization);
    if (!share) {
      share = { running: 0, waiting: [] };
      this.shares.set(organization, share);
    }
    return share;
  }

  private hasRoom(share: OrganizationShare): boolean {
    return this.running < this.limits.maxInFlight && share.running < this.limits.maxInFlightPerOrganization;
  }

  private start(share: OrganizationShare): void {
    share.running++;
    this.running++;
  }

  /** Starts waiting requests while there is room, one per organization per round, in turn order. */
  private serveTurns(): void {
    while (this.running < this.limits.maxInFlight) {
      const index = this.turns.findIndex((organization) => this.hasRoom(this.shares.get(organization)!));
      if (index < 0) return;
      const [organization] = this.turns.splice(index, 1);
      const share = this.shares.get(organization)!;
      const next = share.waiting.shift()!;
      if (share.waiting.length > 0) this.turns.push(organization);
      this.start(share);
      next();
    }
  }

  /** Drops an organization with nothing running or waiting, so the map holds only active callers. */
  private forgetIfIdle(organization: string, share: OrganizationShare): void {
    if (share.running === 0 && share.waiting.length === 0) this.shares.delete(organization);
  }

  private exhausted(): RedactionServiceError {
    const { maxInFlightPerOrganization, maxQueuedPerOrganization } = this.limits;
    return new RedactionServiceError(
      RedactionServiceErrorCode.OVERLOADED,
      `too many redact requests from this organization: at most ${maxInFlightPerOrganization} in flight ` +
        `(REDACTION_MAX_IN_FLIGHT_PER_ORG) and ${maxQueuedPerOrganization} queued (REDACTION_MAX_QUEUED_PER_ORG); ` +
        'retry later',
    );
  }
}
