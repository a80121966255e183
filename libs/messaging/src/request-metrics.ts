import { Counter, Histogram, type Registry } from 'prom-client';

/**
 * A service's own work around each of its requests: `before` runs once the caller is authenticated and may refuse by
 * throwing; `failed` sees each error a request ended with, as thrown, with the subject (without the prefix). Neither
 * sees a value. Run by the platform's guard and error edge, so a service needs no interceptor of its own (each Nest
 * interceptor costs every request another rxjs pipeline).
 */
export interface RequestHooks {
  before?(): void;
  failed?(subject: string, error: unknown): void;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Every service's requests, counted the same way (ARCHITECTURE.md §9) where the transport answers them:
 * `<service>_requests_total{subject, code}` (`OK` or the wire error code of the reply sent: a refused token and a body
 * that failed to decode included) and `<service>_request_duration_seconds{subject}`. Subjects come from the service's
 * own patterns, without the deployment's prefix; labels never carry a key, a value or anything else a caller chose.
 */
export class RequestMetrics {
  private readonly requests: Counter<'subject' | 'code'>;
  private readonly duration: Histogram<'subject'>;

  constructor(service: string, registry: Registry) {
    this.requests = new Counter({
      name: `${service}_requests_total`,
      help: 'Requests answered, by subject and reply code (OK or the error code)',
      labelNames: ['subject', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: `${service}_request_duration_seconds`,
      help: 'Time to answer a request, by subject',
      labelNames: ['subject'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  }

  /** Starts timing a request of `subject`; the returned function counts its reply's code, once. */
  start(subject: string): (code: string) => void {
    const stopTimer = this.duration.startTimer({ subject });
    let counted = false;
    return (code) => {
      if (counted) return;
      counted = true;
      stopTimer();
      this.requests.inc({ subject, code });
    };
  }
}
