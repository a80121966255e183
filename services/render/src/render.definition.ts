import { type DynamicModule, Module } from '@nestjs/common';
import { type Environment, integerSetting, loadServiceConfig } from '@platform/config';
import { type PlatformContext, type ServiceDefinition } from '@platform/messaging';
import { TEMPLATE_LIMITS } from '@platform/template';
import { renderErrorMapper } from './render.error';
import { RenderHandler } from './render.handler';
import { RenderMetrics } from './render.metrics';
import { SecretKeyCatalog } from './secret-key-catalog';
import { ReplyKeys, ResolvedSecretValues } from './secret-values';
import { TemplateCache } from './template-cache';
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
  templateCacheEntries: integerSetting('RENDER_TEMPLATE_CACHE_ENTRIES', { default: 1000, min: 0, max: 1_000_000 }),
  templateCacheBytes: integerSetting('RENDER_TEMPLATE_CACHE_BYTES', {
    default: 64 * 1024 * 1024,
    min: 0,
    max: 4 * 1024 * 1024 * 1024,
  }),
  /** How long one reply key pair serves resolves (the forward-secrecy window); 0 = a fresh pair for every resolve. */
  replyKeyMaxAgeMs: integerSetting('RENDER_REPLY_KEY_MAX_AGE_MS', { default: 60_000, min: 0, max: 600_000 }),
};

type RenderConfig = ReturnType<typeof loadRenderConfig>;

function loadRenderConfig(env: Environment) {
  return loadServiceConfig('render', renderSettings, env);
}

@Module({})
class RenderModule {
  static forContext(context: PlatformContext, config: RenderConfig): DynamicModule {
    const cache = new TemplateCache({
      maxEntries: config.templateCacheEntries,
      maxSourceBytes: config.templateCacheBytes,
    });
    const metrics = new RenderMetrics(context.metrics, cache);
    const values = new ResolvedSecretValues(
      context.services,
      new ReplyKeys(config.replyKeyMaxAgeMs),
      config.resolveTimeoutMs,
      metrics.resolveDuration,
    );
    const catalog = new SecretKeyCatalog(context.nats, config.subjectPrefix, values, config.resolveTimeoutMs);
    return {
      module: RenderModule,
      controllers: [RenderHandler],
      providers: [
        { provide: RenderMetrics, useValue: metrics },
        { provide: TemplateRenderer, useValue: new TemplateRenderer(cache, values, catalog, config.maxTemplateBytes) },
      ],
    };
  }
}

export function renderService(env: Environment = process.env): ServiceDefinition {
  const config = loadRenderConfig(env);
  return {
    name: 'render',
    config,
    // resolve-all: a template that reads `.Secrets` dynamically (index, range, toJson) needs every key of its scope.
    scopes: ['secrets:resolve', 'secrets:resolve-all'],
    streams: [],
    errorMappers: [renderErrorMapper],
    module: (context) => RenderModule.forContext(context, config),
  };
}
