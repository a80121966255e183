import { randomUUID } from 'node:crypto';
import { type NewEvent, type PostgresEventStore } from '@platform/event-store';
import { accessStreamId } from '../secrets/secret-stream';

/** Most access events written in one transaction. */
const MAX_BATCH = 256;

interface Pending {
  readonly event: NewEvent;
  readonly done: (error?: unknown) => void;
}

interface OrganizationQueue {
  waiting: Pending[];
  flushing: boolean;
}

/**
 * Appends resolve access events with group commit: a commit costs a WAL flush (milliseconds), so while one batch of an
 * organization is being written, the calls that arrive meanwhile queue and go together in the next transaction, as
 * one new stream `access:<org>:<uuid>` holding one event per call. No timer: a lone call is written at once; under
 * load a batch is whatever arrived during the previous commit. Every caller waits for its own event to be durable.
 */
export class AccessLog {
  private readonly queues = new Map<string, OrganizationQueue>();

  constructor(private readonly store: PostgresEventStore) {}

  record(organizationId: string, event: NewEvent): Promise<void> {
    return new Promise((resolve, reject) => {
      let queue = this.queues.get(organizationId);
      if (!queue) {
        queue = { waiting: [], flushing: false };
        this.queues.set(organizationId, queue);
      }
      queue.waiting.push({ event, done: (error) => (error === undefined ? resolve() : reject(error)) });
      if (!queue.flushing) void this.flush(organizationId, queue);
    });
  }

  private async flush(organizationId: string, queue: OrganizationQueue): Promise<void> {
    queue.flushing = true;
    while (queue.waiting.length > 0) {
      const batch = queue.waiting.splice(0, MAX_BATCH);
      try {
        await this.store.appendToStream(
          accessStreamId(organizationId, randomUUID()),
          batch.map((pending) => pending.event),
          { expectedVersion: 'no_stream' },
        );
        for (const pending of batch) pending.done();
      } catch (error) {
        for (const pending of batch) pending.done(error ?? new Error('access event not recorded'));
      }
    }
    queue.flushing = false;
    this.queues.delete(organizationId);
  }
}
