/** Who did it and why, stored beside every event; time comes from here, never from the clock of a reader. */
export interface EventMetadata {
  readonly actor: { readonly sub: string; readonly org: string; readonly role: string };
  readonly correlationId?: string;
  readonly causationId?: string;
  /** ISO 8601 instant at which the command was decided. */
  readonly occurredAt: string;
}

/** An event about to be appended; `eventId` (a UUID) is generated when absent. */
export interface NewEvent<Type extends string = string, Data = unknown> {
  readonly type: Type;
  readonly data: Data;
  readonly metadata: EventMetadata;
  readonly eventId?: string;
}

/** An event as stored: its place in its stream, in the global log and in the writing transaction. */
export interface RecordedEvent<Type extends string = string, Data = unknown> extends Required<NewEvent<Type, Data>> {
  readonly streamId: string;
  /** 1 for the first event of a stream. */
  readonly streamVersion: number;
  /** Global, gap-tolerant order of insertion (bigserial); not commit order. */
  readonly position: bigint;
  /** The writing transaction's xid8, as a decimal string; events are published in (transactionId, position) order. */
  readonly transactionId: string;
  readonly createdAt: Date;
}

/**
 * What the caller believes the stream's version is: a number = exactly that many events (0 = empty),
 * `no_stream` = empty, `stream_exists` = at least one event, `any` = no check.
 */
export type ExpectedVersion = number | 'no_stream' | 'stream_exists' | 'any';

export interface AppendResult {
  /** The stream's version after the append: pass it as the next `expectedVersion`. */
  readonly nextExpectedStreamVersion: number;
  /** Position of the last appended event; 0n when nothing was appended. */
  readonly lastEventGlobalPosition: bigint;
  readonly events: RecordedEvent[];
}

export interface ReadStreamResult {
  readonly events: RecordedEvent[];
  readonly currentStreamVersion: number;
  readonly streamExists: boolean;
}
