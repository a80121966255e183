import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { type ValueCache } from '../resolve/value-cache';

/** The service's metrics; labels are subjects and codes only, never keys or values. */
export class SecretsMetrics {
  readonly requests: Counter<'subject' | 'code'>;
  readonly duration: Histogram<'subject'>;
  readonly resolvedValues: Counter;
  readonly integrityFailures: Counter<'reason'>;
  readonly exposures: Counter<'scope'>;

  constructor(registry: Registry, cache: ValueCache) {
    this.requests = new Counter({
      name: 'secrets_requests_total',
      help: 'Requests handled, by subject and reply code (OK or the error code)',
      labelNames: ['subject', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: 'secrets_request_duration_seconds',
      help: 'Time to handle a request, by subject',
      labelNames: ['subject'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: [registry],
    });
    this.resolvedValues = new Counter({
      name: 'secrets_resolved_values_total',
      help: 'Values released by secrets.v1.resolve (current values, not history)',
      registers: [registry],
    });
    this.integrityFailures = new Counter({
      name: 'secrets_integrity_failures_total',
      help: 'Stored values withheld because their ciphertext failed its digest or binding check, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.exposures = new Counter({
      name: 'secrets_exposures_total',
      help: 'SecretExposed events recorded (a value seen in a deployment log), by whose key it was: vendor or customer',
      labelNames: ['scope'],
      registers: [registry],
    });
    new Gauge({
      name: 'secrets_value_cache_entries',
      help: 'Decrypted values held by the resolve cache',
      registers: [registry],
      collect() {
        this.set(cache.size);
      },
    });
    new Gauge({
      name: 'secrets_value_cache_hit_ratio',
      help: 'Share of resolve value lookups served from the cache since start',
      registers: [registry],
      collect() {
        const total = cache.hits + cache.misses;
        this.set(total === 0 ? 0 : cache.hits / total);
      },
    });
  }
}
