import { type OutboxPosition } from '@platform/event-store';
import { SecretsErrorCode } from '../secrets/secrets.error';
import { type PublicationWatch, SecretPublication, latestPosition } from './secret-publication';

/** The outbox as far as the replies see it: published up to `published`, never reaching anything later. */
class FixedOutbox implements PublicationWatch {
  readonly asked: { at: OutboxPosition; timeoutMs: number }[] = [];
  constructor(private readonly published: { transaction: bigint; position: bigint }) {}

  waitUntilPublished(at: OutboxPosition, timeoutMs: number): Promise<boolean> {
    this.asked.push({ at, timeoutMs });
    const transaction = BigInt(at.transactionId);
    const position = BigInt(at.position);
    return Promise.resolve(
      transaction < this.published.transaction ||
        (transaction === this.published.transaction && position <= this.published.position),
    );
  }
}

describe('SecretPublication', () => {
  it('orders positions by transaction first, as the outbox publishes', () => {
    expect(
      latestPosition([
        { transactionId: '9', position: 3n },
        { transactionId: '10', position: 1n },
        { transactionId: '7', position: 8n },
      ]),
    ).toEqual({ transactionId: 10n, position: 1n });
    expect(latestPosition([])).toBeUndefined();
  });

  it('lets a published write reply, and refuses an unpublished one with UNAVAILABLE naming the safe retry', async () => {
    const outbox = new FixedOutbox({ transaction: 5n, position: 50n });
    const publication = new SecretPublication(outbox, 1234);

    await expect(publication.afterWrite({ transactionId: '5', position: 50n })).resolves.toBeUndefined();
    await expect(publication.afterWrite({ transactionId: '6', position: 1n })).rejects.toMatchObject({
      code: SecretsErrorCode.UNAVAILABLE,
      message:
        'the write is stored but was not published to SECRETS_EVENTS within 1234 ms (broker unreachable?); ' +
        'it will be published, and a retry with the same Idempotency-Key returns its result',
    });
    expect(outbox.asked.map(({ timeoutMs }) => timeoutMs)).toEqual([1234, 1234]);
  });

  it('releases resolved values after waiting once, for the latest of their events', async () => {
    const outbox = new FixedOutbox({ transaction: 5n, position: 50n });
    const publication = new SecretPublication(outbox, 1000);

    await publication.beforeRelease([
      { transactionId: '4', position: 70n },
      { transactionId: '5', position: 20n },
    ]);
    expect(outbox.asked).toEqual([{ at: { transactionId: 5n, position: 20n }, timeoutMs: 1000 }]);
    await expect(
      publication.beforeRelease([
        { transactionId: '4', position: 70n },
        { transactionId: '5', position: 51n },
      ]),
    ).rejects.toMatchObject({ code: SecretsErrorCode.UNAVAILABLE });
    // Nothing released, nothing to wait for.
    await publication.beforeRelease([]);
    expect(outbox.asked).toHaveLength(2);
  });
});
