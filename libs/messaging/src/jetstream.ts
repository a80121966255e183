import {
  type JetStreamManager,
  type NatsConnection,
  NatsError,
  RetentionPolicy,
  StorageType,
  type StreamConfig,
  nanos,
} from 'nats';

export type StreamName = 'SECRETS_EVENTS' | 'DEPLOYMENTS_EVENTS' | 'LOGS_RAW' | 'LOGS';

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
/** How long DEPLOYMENTS_EVENTS keeps stale notifications for a deployer to replay (ARCHITECTURE.md §3). */
export const DEPLOYMENTS_EVENTS_MAX_AGE_DAYS = 30;

/** The JetStream streams of ARCHITECTURE.md §3. */
export function streamConfig(name: StreamName, options: StreamOptions): Partial<StreamConfig> & { name: string } {
  const p = options.subjectPrefix;
  const common = { name: prefixedStreamName(p, name), num_replicas: options.replicas, storage: StorageType.File };
  switch (name) {
    case 'SECRETS_EVENTS':
      // Kept forever: ops replay it. Publishers dedupe on Nats-Msg-Id = event id within the window. No message can be
      // deleted or the stream purged through the JetStream API; an update can turn these on but never off again.
      return {
        ...common,
        subjects: [`${p}secrets.events.>`],
        retention: RetentionPolicy.Limits,
        max_age: 0,
        duplicate_window: nanos(HOUR_NS),
        deny_delete: true,
        deny_purge: true,
      };
    case 'DEPLOYMENTS_EVENTS':
      // Stale notifications for deployers, replayable for DEPLOYMENTS_EVENTS_MAX_AGE_DAYS; the secrets outbox publishes them with
      // Nats-Msg-Id `<event id>:<customer|_>:<part>`, so a republish after a crash lands within the window.
      return {
        ...common,
        subjects: [`${p}deployments.events.>`],
        retention: RetentionPolicy.Limits,
        max_age: nanos(DEPLOYMENTS_EVENTS_MAX_AGE_DAYS * 24 * HOUR_NS),
        duplicate_window: nanos(HOUR_NS),
        deny_delete: true,
        deny_purge: true,
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

/**
 * JetStream API errors that retrying cannot cure: the stream exists with a configuration this release cannot turn
 * into its own (10058: name in use with a different configuration; 10052: invalid or unchangeable configuration).
 */
const CONFIGURATION_CONFLICTS: ReadonlySet<number> = new Set([10052, 10058]);

/** A stream or consumer exists with a configuration the service cannot use; says what the server refused. */
export class JetStreamSetupConflict extends Error {
  constructor(what: string, serverSays: string) {
    super(`${what}: the existing configuration conflicts with this release's (${serverSays})`);
    this.name = 'JetStreamSetupConflict';
  }
}

function conflictOf(error: unknown): string | undefined {
  const apiError = error instanceof NatsError ? error.jsError() : null;
  return apiError?.err_code !== undefined && CONFIGURATION_CONFLICTS.has(apiError.err_code)
    ? apiError.description
    : undefined;
}

export interface SetupRetryOptions {
  /** Epoch ms after which the last error is thrown instead of retried. */
  readonly deadlineAt: number;
  /** Told about each failed attempt that will be retried. */
  readonly onRetry?: (error: unknown, delayMs: number) => void;
}

const FIRST_RETRY_MS = 100;
/** START_TIMEOUT_MS's default, for callers outside a service start (tests, benchmarks, ops). */
const DEFAULT_SETUP_DEADLINE_MS = 60_000;
const LONGEST_RETRY_MS = 5_000;

/**
 * Runs a stream or consumer setup step until it succeeds: on a cluster that is still electing leaders, or while
 * other instances set up the same streams, JetStream answers with timeouts, "not leader" or "temporarily
 * unavailable" for a while. A configuration conflict fails at once; anything else is retried with backoff until the
 * deadline, then thrown naming what did not succeed.
 */
export async function retryJetStreamSetup<T>(
  what: string,
  step: () => Promise<T>,
  options: SetupRetryOptions,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await step();
    } catch (error) {
      const conflict = conflictOf(error);
      if (conflict !== undefined) throw new JetStreamSetupConflict(what, conflict);
      const delayMs = Math.min(LONGEST_RETRY_MS, FIRST_RETRY_MS * 2 ** attempt);
      if (Date.now() + delayMs > options.deadlineAt) {
        throw new Error(`${what} did not succeed before the start deadline: ${(error as Error).message}`, {
          cause: error,
        });
      }
      options.onRetry?.(error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

/**
 * Creates each stream, or updates it to the wanted configuration. Correct when any number of instances of every
 * service start at once, on one server or a cluster: each step is idempotent and retried (retryJetStreamSetup).
 */
export async function ensureStreams(
  connection: NatsConnection,
  names: readonly StreamName[],
  options: StreamOptions & Partial<SetupRetryOptions>,
): Promise<void> {
  // A service without streams (render) may have no JetStream API permission at all.
  if (names.length === 0) return;
  const retry = { deadlineAt: Date.now() + DEFAULT_SETUP_DEADLINE_MS, ...options };
  const manager: JetStreamManager = await connection.jetstreamManager();
  for (const name of names) {
    const config = streamConfig(name, options);
    await retryJetStreamSetup(`setting up stream ${config.name}`, () => ensureStream(manager, config), retry);
  }
}

/**
 * A stream that already has the wanted configuration is left alone, so a service that only reads a stream needs no
 * permission to update it (deploy/nats/nats-server.conf gives that to the stream's owner only): until the owner has
 * created or updated it, the step fails and is retried.
 */
async function ensureStream(manager: JetStreamManager, config: Partial<StreamConfig> & { name: string }) {
  try {
    const { config: existing } = await manager.streams.info(config.name);
    if (!differsFrom(existing, config)) return;
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

function isStreamNotFound(error: unknown): boolean {
  return /stream not found/i.test(String((error as Error | undefined)?.message));
}

/** Whether any setting of `wanted` differs from the stream's: an update is needed. */
export function differsFrom(existing: StreamConfig, wanted: Partial<StreamConfig>): boolean {
  return (Object.keys(wanted) as (keyof StreamConfig)[]).some(
    (setting) => JSON.stringify(existing[setting]) !== JSON.stringify(wanted[setting]),
  );
}
