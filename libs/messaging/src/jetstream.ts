import {
  type JetStreamManager,
  type NatsConnection,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  nanos,
} from 'nats';

export type StreamName = 'SECRETS_EVENTS' | 'LOGS_RAW' | 'LOGS';

/** Stream names cannot contain dots, so a subject prefix `t42.` becomes the stream name prefix `t42_`. */
export function prefixedStreamName(prefix: string, name: StreamName): string {
  return `${prefix.replace(/\./g, '_')}${name}`;
}

export interface StreamOptions {
  readonly subjectPrefix: string;
  readonly replicas: number;
  /** LOGS only: how long redacted logs are kept. */
  readonly logsMaxAgeDays?: number;
}

const HOUR_NS = 60 * 60 * 1000;

/** The JetStream streams of ARCHITECTURE.md §3. */
export function streamConfig(name: StreamName, options: StreamOptions): Partial<StreamConfig> & { name: string } {
  const p = options.subjectPrefix;
  const common = { name: prefixedStreamName(p, name), num_replicas: options.replicas, storage: StorageType.File };
  switch (name) {
    case 'SECRETS_EVENTS':
      // Kept forever: ops replay it. Publishers dedupe on Nats-Msg-Id = event id within the window.
      return {
        ...common,
        subjects: [`${p}secrets.events.>`],
        retention: RetentionPolicy.Limits,
        max_age: 0,
        duplicate_window: nanos(HOUR_NS),
      };
    case 'LOGS_RAW':
      return {
        ...common,
        subjects: [`${p}logs.raw.>`],
        retention: RetentionPolicy.Workqueue,
        max_age: nanos(24 * HOUR_NS),
      };
    case 'LOGS':
      return {
        ...common,
        subjects: [`${p}logs.redacted.>`],
        retention: RetentionPolicy.Limits,
        max_age: nanos((options.logsMaxAgeDays ?? 30) * 24 * HOUR_NS),
        // Redaction publishes with Nats-Msg-Id = raw sequence; a redelivery after a lost ack lands within this window.
        duplicate_window: nanos(HOUR_NS / 6),
      };
    default: {
      const _exhaustive: never = name;
      return _exhaustive;
    }
  }
}

/** Creates each stream, or updates it to the wanted configuration; safe when several instances start at once. */
export async function ensureStreams(
  connection: NatsConnection,
  names: readonly StreamName[],
  options: StreamOptions,
): Promise<void> {
  // A service without streams (render) may have no JetStream API permission at all.
  if (names.length === 0) return;
  const manager: JetStreamManager = await connection.jetstreamManager();
  for (const name of names) {
    const config = streamConfig(name, options);
    try {
      await manager.streams.info(config.name);
      await manager.streams.update(config.name, config);
    } catch (error) {
      if (!isStreamNotFound(error)) throw error;
      try {
        await manager.streams.add(config);
      } catch (addError) {
        if (!/already in use/i.test(String((addError as Error).message))) throw addError;
        await manager.streams.update(config.name, config);
      }
    }
  }
}

function isStreamNotFound(error: unknown): boolean {
  return /stream not found/i.test(String((error as Error | undefined)?.message));
}
