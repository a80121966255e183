import { type OutboxPosition } from '@platform/event-store';
import { SecretsError, SecretsErrorCode } from '../secrets/secrets.error';

/** The outbox's answer to "is this event on SECRETS_EVENTS yet?" (`OutboxPublisher.waitUntilPublished`). */
export interface PublicationWatch {
  waitUntilPublished(at: OutboxPosition, timeoutMs: number): Promise<boolean>;
}

/** The latest of the positions, in the outbox's (transaction id, position) publishing order. */
export function latestPosition(positions: Iterable<OutboxPosition>): OutboxPosition | undefined {
  let latest: { transaction: bigint; position: bigint } | undefined;
  for (const at of positions) {
    const transaction = BigInt(at.transactionId);
    const position = BigInt(at.position);
    if (
      latest === undefined ||
      transaction > latest.transaction ||
      (transaction === latest.transaction && position > latest.position)
    ) {
      latest = { transaction, position };
    }
  }
  return latest && { transactionId: latest.transaction, position: latest.position };
}

/**
 * Holds replies until the events they answer for are on SECRETS_EVENTS, so "write acknowledged" implies "every
 * consumer of SECRETS_EVENTS (redaction) can know of it": a log line carrying a new value, published after the reply,
 * is redacted with it. Resolve waits too, or a concurrent reader could log a value before its event is out.
 */
export class SecretPublication {
  constructor(
    private readonly outbox: PublicationWatch,
    /** SECRETS_PUBLISH_WAIT_MS */
    readonly waitMs: number,
  ) {}

  /** After a create, update or delete (or a retry finding it) committed its last event at `at`. */
  async afterWrite(at: OutboxPosition): Promise<void> {
    if (await this.outbox.waitUntilPublished(at, this.waitMs)) return;
    // UNAVAILABLE rather than success: a success must keep meaning "published"; the Idempotency-Key retry is exact.
    throw new SecretsError(
      SecretsErrorCode.UNAVAILABLE,
      `the write is stored but was not published to SECRETS_EVENTS within ${this.waitMs} ms (broker unreachable?); ` +
        'it will be published, and a retry with the same Idempotency-Key returns its result',
    );
  }

  /** Before values written by the events at `positions` are released to a resolve caller. */
  async beforeRelease(positions: Iterable<OutboxPosition>): Promise<void> {
    const latest = latestPosition(positions);
    if (latest === undefined || (await this.outbox.waitUntilPublished(latest, this.waitMs))) return;
    throw new SecretsError(
      SecretsErrorCode.UNAVAILABLE,
      `a requested value was written but not published to SECRETS_EVENTS within ${this.waitMs} ms ` +
        '(broker unreachable?); retry',
    );
  }
}
