import { CodedError } from '@platform/contracts';
import type { ExpectedVersion } from './events';

export enum EventStoreErrorCode {
  /** The stream is not at the expected version; re-read and decide again. */
  CONCURRENCY = 'CONCURRENCY',
  /** An event with the same id was already appended. */
  DUPLICATE_EVENT = 'DUPLICATE_EVENT',
  /** The database cannot be reached right now; safe to retry. */
  UNAVAILABLE = 'UNAVAILABLE',
  /** The caller passed something the store cannot accept (bad schema name, event id, version…). */
  INVALID_ARGUMENT = 'INVALID_ARGUMENT',
  /** The outbox publisher was asked to do something it cannot do in its current state. */
  PUBLISHER_NOT_RUNNING = 'PUBLISHER_NOT_RUNNING',
  /** The outbox checkpoint is ahead of the database's transaction ids (a restore): it refuses to publish. */
  CHECKPOINT_AHEAD = 'CHECKPOINT_AHEAD',
}

/** Every failure the event store reports on purpose. Messages name streams and ids, never event data. */
export class EventStoreError extends CodedError<EventStoreErrorCode> {
  constructor(code: EventStoreErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, undefined, options);
  }
}

function describe(version: ExpectedVersion): string {
  switch (version) {
    case 'no_stream':
      return 'no stream';
    case 'stream_exists':
      return 'an existing stream';
    case 'any':
      return 'any version';
    default:
      return `version ${version}`;
  }
}

/** The stream moved on since the caller read it (or never existed, or already exists). */
export class ConcurrencyError extends EventStoreError {
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedVersion,
    readonly actual: number,
  ) {
    super(
      EventStoreErrorCode.CONCURRENCY,
      `Stream ${streamId} was expected at ${describe(expected)} but is at version ${actual}`,
    );
  }
}
