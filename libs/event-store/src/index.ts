export { ConcurrencyError, EventStoreError, EventStoreErrorCode } from './event-store.error';
export type { AppendResult, EventMetadata, ExpectedVersion, NewEvent, ReadStreamResult, RecordedEvent } from './events';
export type { MigrationDefinition } from './migrations';
export type { QueryOptions } from '@platform/postgres';
export {
  OutboxPublisher,
  rebaseOutboxCheckpoint,
  type CheckpointAhead,
  type CheckpointRebase,
  type OutboxLogger,
  type OutboxPublisherOptions,
} from './outbox-publisher';
export {
  PostgresEventStore,
  type EventStoreLogger,
  type EventStoreOptions,
  type RebuildOptions,
} from './postgres-event-store';
export type { InlineProjection, InlineStatement, ProjectionContext, RebuildRange } from './projection';
export type { OutboxPosition } from './publication-waiters';
