import { RENDER_FORMATS } from '@platform/contracts';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type TemplateCache } from './template-cache';

/** A format label from the fixed set, so a caller cannot create label values. */
export function formatLabel(format: string): string {
  return (RENDER_FORMATS as readonly string[]).includes(format) ? format : 'invalid';
}

/** Render's metrics; labels are subjects, formats and reply codes only, never keys, values or template text. */
export class RenderMetrics {
  readonly requests: Counter<'subject' | 'format' | 'outcome'>;
  readonly duration: Histogram<'subject' | 'format'>;
  readonly resolveDuration: Histogram;

  constructor(registry: Registry, cache: TemplateCache) {
    this.requests = new Counter({
      name: 'render_requests_total',
      help: 'Requests handled, by subject, format and outcome (OK or the error code)',
      labelNames: ['subject', 'format', 'outcome'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'render_request_duration_seconds',
      help: 'Time to handle a request, by subject and format',
      labelNames: ['subject', 'format'],
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.resolveDuration = new Histogram({
      name: 'render_resolve_duration_seconds',
      help: 'Time for one secrets.v1.resolve round trip, decryption included',
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    new Gauge({
      name: 'render_template_cache_entries',
      help: 'Parsed templates held by the cache',
      registers: [registry],
      collect() {
        this.set(cache.size);
      },
    });
    new Gauge({
      name: 'render_template_cache_hit_ratio',
      help: 'Share of template parses served from the cache since start',
      registers: [registry],
      collect() {
        const total = cache.hits + cache.misses;
        this.set(total === 0 ? 0 : cache.hits / total);
      },
    });
  }
}
