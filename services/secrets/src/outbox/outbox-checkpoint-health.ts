import { type OutboxPublisher } from '@platform/event-store';
import { type Readiness } from '@platform/messaging';
import { Gauge, type Registry } from 'prom-client';

/**
 * An outbox that refuses to publish (its checkpoint is ahead of the database's transaction ids, as after a logical
 * restore) makes the instance unready, and shows as `secrets_outbox_checkpoint_ahead` 1 until `secrets outbox rebase`.
 */
export function watchOutboxCheckpoint(outbox: OutboxPublisher, readiness: Readiness, registry: Registry): void {
  readiness.register('outbox', () => Promise.resolve(outbox.checkpointAhead === undefined));
  new Gauge({
    name: 'secrets_outbox_checkpoint_ahead',
    help: '1 while the outbox refuses to publish: its checkpoint is ahead of the database (run `secrets outbox rebase`)',
    registers: [registry],
    collect() {
      this.set(outbox.checkpointAhead === undefined ? 0 : 1);
    },
  });
}
