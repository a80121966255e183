import { availableParallelism } from 'node:os';
import { type DynamicModule, Inject, Module, type OnModuleDestroy } from '@nestjs/common';
import {
  type Environment,
  type KeyMaterial,
  REPO_ROOT,
  integerSetting,
  keyMaterialSetting,
  loadServiceConfig,
} from '@platform/config';
import { ReplyVerifier } from '@platform/crypto';
import { type PlatformContext, type ServiceDefinition } from '@platform/messaging';
import { TEMPLATE_LIMITS } from '@platform/template';
import { renderErrorMapper } from './render.error';
import { RenderHandler } from './render.handler';
import { RenderMetrics } from './render.metrics';
import { SecretKeyCatalog } from './secret-key-catalog';
import { ReplyKeys, ResolvedSecretValues } from './secret-values';
import { TemplateWorkerPool } from './template-pool';
import { TemplateRenderer } from './template-renderer';

const renderSettings = {
  /** How long a render waits for the secrets service before answering UNAVAILABLE. */
  resolveTimeoutMs: integerSetting('RENDER_RESOLVE_TIMEOUT_MS', { default: 2000, min: 10, max: 60_000 }),
  /** Largest template accepted (ARCHITECTURE.md §2: 1 MiB); smaller in tests and stricter deployments. */
  maxTemplateBytes: integerSetting('RENDER_MAX_TEMPLATE_BYTES', {
    default: TEMPLATE_LIMITS.maxSourceBytes,
    min: 1,
    max: TEMPLATE_LIMITS.maxSourceBytes,
  }),
  /** Parsed templates held, across the workers' caches (each holds its share). */
  templateCacheEntries: integerSetting('RENDER_TEMPLATE_CACHE_ENTRIES', { default: 1000, min: 0, max: 1_000_000 }),
  /** Estimated heap of the parsed templates held (Template.estimatedBytes), across the workers' caches. */
  templateCacheBytes: integerSetting('RENDER_TEMPLATE_CACHE_BYTES', {
    default: 64 * 1024 * 1024,
    min: 0,
    max: 4 * 1024 * 1024 * 1024,
  }),
  /** Template worker threads: parsing and executing run there, off the event loop. */
  workers: integerSetting('RENDER_WORKERS', { default: availableParallelism(), min: 1, max: 64 }),
  /** How long one parse or one execution may take; the engine stops there, a worker is ended 1 s later. */
  deadlineMs: integerSetting('RENDER_DEADLINE_MS', { default: 2000, min: 10, max: 60_000 }),
  /** Each worker's heap limit (V8 old generation): beyond it that worker ends, not the process. */
  workerHeapMb: integerSetting('RENDER_WORKER_HEAP_MB', { default: 256, min: 16, max: 16_384 }),
  /** Template jobs one organization has on workers at once (pipelined on at most workers − 1 workers). */
  maxInFlightPerOrg: integerSetting('RENDER_MAX_IN_FLIGHT_PER_ORG', { default: 4, min: 1, max: 1024 }),
  /** Template jobs one organization may have waiting for a worker; beyond it RESOURCE_EXHAUSTED. */
  maxQueuedPerOrg: integerSetting('RENDER_MAX_QUEUED_PER_ORG', { default: 256, min: 1, max: 100_000 }),
  /** How long one reply key pair serves resolves (the forward-secrecy window); 0 = a fresh pair for every resolve. */
  replyKeyMaxAgeMs: integerSetting('RENDER_REPLY_KEY_MAX_AGE_MS', { default: 60_000, min: 0, max: 600_000 }),
  /** The secrets service's reply-signing public keys (a JWKS): a resolve reply signed by any other is refused. */
  replyJwks: keyMaterialSetting('RESOLVE_REPLY_JWKS', 'deploy/dev/reply-signing-jwks.json', REPO_ROOT),
};

type RenderConfig = ReturnType<typeof loadRenderConfig>;

function loadRenderConfig(env: Environment) {
  return loadServiceConfig('render', renderSettings, env);
}

/** The pinned reply-signing keys; a JWKS that cannot verify ES256 stops the start, naming the variable. */
function replyVerifier(material: KeyMaterial): ReplyVerifier {
  try {
    return ReplyVerifier.fromJwks(material.json);
  } catch (error) {
    throw new Error(`RESOLVE_REPLY_JWKS: ${(error as Error).message}`);
  }
}

/** Ends the template workers with the service. */
class TemplateWorkersLifecycle implements OnModuleDestroy {
  constructor(@Inject(TemplateWorkerPool) private readonly pool: TemplateWorkerPool) {}

  onModuleDestroy(): Promise<void> {
    return this.pool.close();
  }
}

@Module({})
class RenderModule {
  static forContext(context: PlatformContext, config: RenderConfig): DynamicModule {
    const metrics = new RenderMetrics(context.metrics);
    const pool = new TemplateWorkerPool(
      {
        workers: config.workers,
        deadlineMs: config.deadlineMs,
        workerHeapMb: config.workerHeapMb,
        cache: {
          maxEntries: Math.ceil(config.templateCacheEntries / config.workers),
          maxBytes: Math.floor(config.templateCacheBytes / config.workers),
        },
        maxRunningPerTenant: config.maxInFlightPerOrg,
        maxQueuedPerTenant: config.maxQueuedPerOrg,
      },
      metrics.poolObserver,
    );
    metrics.observe(pool);
    const values = new ResolvedSecretValues(context.services, {
      replyKeys: new ReplyKeys(config.replyKeyMaxAgeMs),
      verifier: replyVerifier(config.replyJwks),
      timeoutMs: config.resolveTimeoutMs,
      timer: metrics.resolveDuration,
      refused: (reason) => metrics.resolveRepliesRefused.inc({ reason }),
    });
    const catalog = new SecretKeyCatalog(context.nats, config.subjectPrefix, values, config.resolveTimeoutMs);
    return {
      module: RenderModule,
      controllers: [RenderHandler],
      providers: [
        { provide: RenderMetrics, useValue: metrics },
        { provide: TemplateWorkerPool, useValue: pool },
        TemplateWorkersLifecycle,
        { provide: TemplateRenderer, useValue: new TemplateRenderer(pool, values, catalog, config.maxTemplateBytes) },
      ],
    };
  }
}

export function renderService(env: Environment = process.env): ServiceDefinition {
  const config = loadRenderConfig(env);
  return {
    name: 'render',
    config,
    // resolve-current: a template that reads `.Secrets` dynamically (index, range, toJson) needs every key of its
    // scope; never the history of values (secrets:resolve-all).
    scopes: ['secrets:resolve', 'secrets:resolve-current'],
    streams: [],
    errorMappers: [renderErrorMapper],
    module: (context) => RenderModule.forContext(context, config),
  };
}
