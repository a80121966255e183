import {
  type DynamicModule,
  Injectable,
  Module,
  type OnApplicationBootstrap,
  type OnModuleDestroy,
} from '@nestjs/common';
import {
  type Environment,
  type KeyMaterial,
  REPO_ROOT,
  integerSetting,
  keyMaterialSetting,
  loadServiceConfig,
} from '@platform/config';
import { ReplyVerifier } from '@platform/crypto';
import { PlatformContext, type ServiceDefinition } from '@platform/messaging';
import { ExposureReporter } from './exposure/exposure-reporter';
import { RawLogConsumer } from './logs/raw-log-consumer';
import { ResolvedSecretValues } from './matchers/resolved-secret-values';
import { ScopeMatchers, scopeKey } from './matchers/scope-matchers';
import { SecretsEventsListener } from './matchers/secrets-events-listener';
import { RedactAdmission } from './redact/redact-admission';
import { RedactHandler } from './redact/redact.handler';
import { DEFAULT_MAX_TEXT_BYTES, RequestBarrier, TextLimit, TextRedaction } from './redact/text-redaction';
import { redactionErrorMapper } from './redaction.error';
import { RedactionMetrics } from './redaction.metrics';

function redactionSettings() {
  return {
    minLength: integerSetting('REDACTION_MIN_LENGTH', { default: 4, min: 1, max: 1024 }),
    logsMaxAgeDays: integerSetting('LOGS_MAX_AGE_DAYS', { default: 30, min: 1, max: 3650 }),
    /** Safety net for a missed change event: no matcher is used longer than this without a rebuild. */
    matcherMaxAgeSeconds: integerSetting('REDACTION_MATCHER_MAX_AGE_SECONDS', { default: 60, min: 1, max: 86_400 }),
    /** How long a raw line rests before redaction, so a change committed just before it has invalidated the matcher. */
    settleMs: integerSetting('REDACTION_SETTLE_MS', { default: 250, min: 0, max: 10_000 }),
    /** The longest redaction.v1.redact text; masking it holds the event loop (bench/redaction-request.bench.ts). */
    maxTextBytes: integerSetting('REDACTION_MAX_TEXT_BYTES', {
      default: DEFAULT_MAX_TEXT_BYTES,
      min: 1,
      max: 1024 * 1024,
    }),
    /** redaction.v1.redact requests one calling organization runs at once; more wait for their turn. */
    maxInFlightPerOrg: integerSetting('REDACTION_MAX_IN_FLIGHT_PER_ORG', { default: 4, min: 1, max: 1_000 }),
    /** redaction.v1.redact requests run at once, every organization together; organizations take turns beyond. */
    maxInFlight: integerSetting('REDACTION_MAX_IN_FLIGHT', { default: 16, min: 1, max: 10_000 }),
    /** redaction.v1.redact requests one organization may have waiting; the next is refused RESOURCE_EXHAUSTED. */
    maxQueuedPerOrg: integerSetting('REDACTION_MAX_QUEUED_PER_ORG', { default: 32, min: 0, max: 100_000 }),
    /** At most one exposure report per secret version and deployment per this many seconds (ARCHITECTURE.md §8). */
    exposureWindowSeconds: integerSetting('REDACTION_EXPOSURE_WINDOW_SECONDS', { default: 60, min: 1, max: 86_400 }),
    /** The secrets service's reply-signing public keys (a JWKS): a resolve reply signed by any other is refused. */
    replyJwks: keyMaterialSetting('RESOLVE_REPLY_JWKS', 'deploy/dev/reply-signing-jwks.json', REPO_ROOT),
  };
}

type RedactionConfig = ReturnType<typeof loadRedactionConfig>;

function loadRedactionConfig(env: Environment) {
  return loadServiceConfig('redaction', redactionSettings(), env);
}

/** The typed configuration as a provider. */
class RedactionConfigToken {
  constructor(readonly value: RedactionConfig) {}
}

/** How long a batch or request waits for the SECRETS_EVENTS listener to catch up before it is handed back or refused. */
const CHANGES_CATCH_UP_TIMEOUT_MS = 5_000;
const EXPOSURE_REPORT_TIMEOUT_MS = 5_000;

/** Follows SECRETS_EVENTS before consuming LOGS_RAW (so no change is missed), and stops both before NATS drains. */
@Injectable()
class RedactionLifecycle implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly consumer: RawLogConsumer;
  private readonly exposures: ExposureReporter;

  constructor(
    private readonly platform: PlatformContext,
    private readonly matchers: ScopeMatchers,
    metrics: RedactionMetrics,
    config: RedactionConfigToken,
    private readonly listener: SecretsEventsListener,
    barrier: RequestBarrier,
  ) {
    const { nats, logger } = platform;
    const subjectPrefix = platform.config.subjectPrefix;
    this.exposures = new ExposureReporter({
      send: async (report) => {
        await platform.services.request('secrets.v1.reportexposure', report, { timeoutMs: EXPOSURE_REPORT_TIMEOUT_MS });
      },
      windowMs: config.value.exposureWindowSeconds * 1000,
      logger: logger.child({ component: 'exposure-reporter' }),
      outcome: (outcome) => metrics.exposureReport(outcome),
    });
    this.consumer = new RawLogConsumer({
      nats,
      subjectPrefix,
      matchers,
      metrics,
      logger: logger.child({ component: 'raw-log-consumer' }),
      settleMs: config.value.settleMs,
      changesApplied: barrier.changesApplied,
      exposures: this.exposures,
    });
    platform.readiness.register('secrets-events', () => Promise.resolve(this.listener.isListening()));
    platform.readiness.register('logs-raw', () => Promise.resolve(this.consumer.isConsuming()));
    platform.readiness.register('matchers', () => Promise.resolve(!matchers.valuesUnavailable()));
  }

  async onApplicationBootstrap(): Promise<void> {
    await this.platform.setUpAtStart('following SECRETS_EVENTS', () => this.listener.start());
    await this.platform.setUpAtStart('consuming LOGS_RAW', () => this.consumer.start());
  }

  async onModuleDestroy(): Promise<void> {
    await this.consumer.stop();
    await this.exposures.stop();
    await this.listener.stop();
    this.matchers.close();
  }
}

/** The pinned reply-signing keys; a JWKS that cannot verify ES256 stops the start, naming the variable. */
function replyVerifier(material: KeyMaterial): ReplyVerifier {
  try {
    return ReplyVerifier.fromJwks(material.json);
  } catch (error) {
    throw new Error(`RESOLVE_REPLY_JWKS: ${(error as Error).message}`);
  }
}

/** Our libraries' errors never carry a value; a name, code and message say why a build failed. */
function describeFailure(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { name: typeof error };
  return { name: error.name, code: (error as { code?: unknown }).code, message: error.message };
}

@Module({})
class RedactionModule {
  static forContext(context: PlatformContext, config: RedactionConfig): DynamicModule {
    const logger = context.logger.child({ component: 'matchers' });
    const metrics = new RedactionMetrics(context.metrics);
    const matchers = new ScopeMatchers({
      source: new ResolvedSecretValues(context.services, replyVerifier(config.replyJwks), (reason) =>
        metrics.resolveReplyRefused(reason),
      ),
      minLength: config.minLength,
      maxAgeMs: config.matcherMaxAgeSeconds * 1000,
      observer: metrics,
      onBuildFailure: (scope, error) =>
        logger.warn(
          { scope: scopeKey(scope), error: describeFailure(error) },
          'cannot build the matcher of a scope; its log lines wait',
        ),
    });
    metrics.watchCache(matchers);
    const listener = new SecretsEventsListener(
      context.nats,
      context.config.subjectPrefix,
      matchers,
      context.logger.child({ component: 'secrets-events' }),
    );
    // Log lines and redact requests pass the same barrier before their matcher is taken.
    const barrier = new RequestBarrier(config.settleMs, () => listener.caughtUp(CHANGES_CATCH_UP_TIMEOUT_MS));
    const admission = new RedactAdmission(
      {
        maxInFlightPerOrganization: config.maxInFlightPerOrg,
        maxInFlight: config.maxInFlight,
        maxQueuedPerOrganization: config.maxQueuedPerOrg,
      },
      () => metrics.requestRefused(),
    );
    metrics.watchAdmission(admission);
    return {
      module: RedactionModule,
      controllers: [RedactHandler],
      providers: [
        { provide: RedactionConfigToken, useValue: new RedactionConfigToken(config) },
        { provide: RedactionMetrics, useValue: metrics },
        { provide: ScopeMatchers, useValue: matchers },
        { provide: SecretsEventsListener, useValue: listener },
        { provide: RequestBarrier, useValue: barrier },
        { provide: RedactAdmission, useValue: admission },
        { provide: TextLimit, useValue: new TextLimit(config.maxTextBytes) },
        TextRedaction,
        RedactionLifecycle,
      ],
    };
  }
}

/** The redaction service: LOGS_RAW → LOGS with every secret value of the line's scope masked, and `redaction.v1.redact`. */
export function redactionService(env: Environment = process.env): ServiceDefinition {
  const config = loadRedactionConfig(env);
  return {
    name: 'redaction',
    config,
    scopes: ['secrets:resolve', 'secrets:resolve-all', 'secrets:report-exposure'],
    streams: ['LOGS_RAW', 'LOGS', 'SECRETS_EVENTS'],
    logsMaxAgeDays: config.logsMaxAgeDays,
    module: (context) => RedactionModule.forContext(context, config),
    errorMappers: [redactionErrorMapper],
  };
}
