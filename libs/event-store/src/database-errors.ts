import { isUnavailable as isPostgresUnavailable } from '@platform/postgres';
import { EventStoreError, EventStoreErrorCode } from './event-store.error';

/** True when the failure says "the database cannot be reached", not "the statement is wrong". */
export function isUnavailable(error: unknown): boolean {
  if (error instanceof EventStoreError) return error.code === EventStoreErrorCode.UNAVAILABLE;
  return isPostgresUnavailable(error);
}

/** Turns connection failures into `UNAVAILABLE`; every other error passes through untouched. */
export function asStoreError(error: unknown): unknown {
  if (error instanceof EventStoreError || !isUnavailable(error)) return error;
  return new EventStoreError(EventStoreErrorCode.UNAVAILABLE, 'The event store database is unavailable', {
    cause: error,
  });
}
