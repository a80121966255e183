import { EventStoreError, EventStoreErrorCode } from '@platform/event-store';
import { SecretsError, SecretsErrorCode } from './secrets.error';

const PROBE_INTERVAL_MS = 1000;

/**
 * Fails requests fast with UNAVAILABLE while Postgres is down, instead of letting each one wait for the pool's
 * connection timeout. A background probe closes and reopens the gate; a request that meets a connection failure
 * closes it at once.
 */
export class StoreAvailability {
  private available = true;
  private probing = false;
  private timer?: NodeJS.Timeout;

  constructor(private readonly isHealthy: () => Promise<boolean>) {}

  start(): void {
    this.timer ??= setInterval(() => void this.probe(), PROBE_INTERVAL_MS).unref();
  }

  stop(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }

  get isAvailable(): boolean {
    return this.available;
  }

  assertAvailable(): void {
    if (!this.available) throw unavailable();
  }

  /** Notes a request's failure: a connection failure closes the gate until the probe succeeds. */
  observe(error: unknown): void {
    if (error instanceof EventStoreError && error.code === EventStoreErrorCode.UNAVAILABLE) this.available = false;
  }

  async probe(): Promise<boolean> {
    if (this.probing) return this.available;
    this.probing = true;
    try {
      this.available = await this.isHealthy();
    } finally {
      this.probing = false;
    }
    return this.available;
  }
}

export function unavailable(): SecretsError {
  return new SecretsError(SecretsErrorCode.UNAVAILABLE, 'the secrets database is unavailable; retry later');
}
