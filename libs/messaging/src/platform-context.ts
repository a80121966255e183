import { type NatsConnection } from 'nats';
import { type Logger } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { type CommonConfig, type ServiceName } from '@platform/config';
import { retryJetStreamSetup } from './jetstream';
import { type ServiceClient } from './service-client';

/** A named check that `/readyz` runs; the service is ready when every check passes. */
export type ReadinessCheck = () => Promise<boolean>;

export class Readiness {
  private readonly checks = new Map<string, ReadinessCheck>();

  register(name: string, check: ReadinessCheck): void {
    this.checks.set(name, check);
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, boolean> }> {
    const entries = await Promise.all(
      [...this.checks].map(async ([name, check]) => [name, await check().catch(() => false)] as const),
    );
    return { ready: entries.every(([, ok]) => ok), checks: Object.fromEntries(entries) };
  }
}

export function createMetricsRegistry(service: ServiceName): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

/** What every service's providers can inject: its configuration, shared NATS connection and platform plumbing. */
export class PlatformContext {
  constructor(
    readonly service: ServiceName,
    readonly config: CommonConfig,
    readonly nats: NatsConnection,
    readonly logger: Logger,
    readonly readiness: Readiness,
    readonly metrics: Registry,
    readonly services: ServiceClient,
    /** Epoch ms by which the service must have set up its streams and consumers (START_TIMEOUT_MS after start). */
    readonly startDeadlineAt: number = Date.now() + config.startTimeoutMs,
  ) {}

  /** Runs a JetStream setup step at start, retried until the start deadline (see retryJetStreamSetup). */
  setUpAtStart<T>(what: string, step: () => Promise<T>): Promise<T> {
    return retryJetStreamSetup(what, step, {
      deadlineAt: this.startDeadlineAt,
      onRetry: (error, delayMs) => this.logger.warn({ err: error, delayMs }, `${what}: JetStream not ready; retrying`),
    });
  }

  /** A subject with this deployment's `NATS_SUBJECT_PREFIX`. */
  subject(subject: string): string {
    return this.config.subjectPrefix + subject;
  }
}
