import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type TemplatePoolObserver, type TemplateWorkerPool } from './template-pool';

/**
 * Render's own metrics (requests are counted by the platform's RequestMetrics); labels are reasons only,
 * never keys, values or template text.
 */
export class RenderMetrics {
  readonly resolveDuration: Histogram;
  readonly resolveRepliesRefused: Counter<'reason'>;
  readonly poolObserver: TemplatePoolObserver;

  constructor(private readonly registry: Registry) {
    this.resolveDuration = new Histogram({
      name: 'render_resolve_duration_seconds',
      help: 'Time for one secrets.v1.resolve round trip, decryption included',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.resolveRepliesRefused = new Counter({
      name: 'render_resolve_replies_refused_total',
      help: 'secrets.v1.resolve replies refused by their signature or binding checks, by reason; none was used',
      labelNames: ['reason'],
      registers: [registry],
    });
    const refusals = new Counter({
      name: 'render_template_queue_refusals_total',
      help: 'Template jobs refused with RESOURCE_EXHAUSTED because their organization had too many waiting',
      registers: [registry],
    });
    const restarts = new Counter({
      name: 'render_template_worker_restarts_total',
      help: 'Template workers ended and replaced, by reason (deadline, memory, crash)',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.poolObserver = {
      refused: () => refusals.inc(),
      workerReplaced: (reason) => restarts.inc({ reason }),
    };
  }

  /** Gauges read from the pool when scraped; the workers' figures are those of their last answer. */
  observe(pool: TemplateWorkerPool): void {
    const registers = [this.registry];
    const sum = (pick: (stats: ReturnType<TemplateWorkerPool['stats']>[number]) => number) =>
      pool.stats().reduce((total, stats) => total + pick(stats), 0);
    new Gauge({
      name: 'render_template_queue_depth',
      help: 'Template jobs waiting for a worker, across organizations',
      registers,
      collect() {
        this.set(pool.waiting);
      },
    });
    new Gauge({
      name: 'render_template_worker_heap_used_bytes',
      help: 'V8 heap used by the template workers together',
      registers,
      collect() {
        this.set(sum((stats) => stats.heapUsedBytes));
      },
    });
    new Gauge({
      name: 'render_template_cache_entries',
      help: "Parsed templates held by the workers' caches",
      registers,
      collect() {
        this.set(sum((stats) => stats.cacheEntries));
      },
    });
    new Gauge({
      name: 'render_template_cache_estimated_bytes',
      help: "Estimated heap of the parsed templates held by the workers' caches",
      registers,
      collect() {
        this.set(sum((stats) => stats.cacheBytes));
      },
    });
    new Gauge({
      name: 'render_template_cache_hit_ratio',
      help: 'Share of template parses served from the cache since the workers started',
      registers,
      collect() {
        const hits = sum((stats) => stats.cacheHits);
        const total = hits + sum((stats) => stats.cacheMisses);
        this.set(total === 0 ? 0 : hits / total);
      },
    });
  }
}
