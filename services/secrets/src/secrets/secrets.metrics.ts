import { Counter, Gauge, type Registry } from 'prom-client';
import { type ValueCache } from '../resolve/value-cache';

/**
 * The service's own metrics (requests are counted by the platform's RequestMetrics); labels are reasons
 * only, never keys or values.
 */
export class SecretsMetrics {
  readonly resolvedValues: Counter;
  readonly integrityFailures: Counter<'reason'>;
  readonly exposures: Counter<'scope'>;

  constructor(registry: Registry, cache: ValueCache) {
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
