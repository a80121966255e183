import { EventStoreError, EventStoreErrorCode } from './event-store.error';

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** Quoted, schema-qualified names of the store's tables, built once from a validated schema name. */
export interface SchemaNames {
  readonly schema: string;
  readonly quotedSchema: string;
  readonly events: string;
  readonly outboxCheckpoints: string;
  /** NOTIFY channel raised by every append transaction. */
  readonly eventsChannel: string;
}

export function schemaNames(schema: string): SchemaNames {
  if (!SCHEMA_NAME.test(schema)) {
    throw new EventStoreError(
      EventStoreErrorCode.INVALID_ARGUMENT,
      `Schema name must match ${SCHEMA_NAME.source}, got ${JSON.stringify(schema)}`,
    );
  }
  const quotedSchema = `"${schema}"`;
  return {
    schema,
    quotedSchema,
    events: `${quotedSchema}.events`,
    outboxCheckpoints: `${quotedSchema}.outbox_checkpoints`,
    eventsChannel: `${schema}_events`,
  };
}
