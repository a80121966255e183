import { type CallHandler, type ExecutionContext, type NestInterceptor } from '@nestjs/common';
import { type NatsContext } from '@nestjs/microservices';
import { Counter, Histogram, type Registry } from 'prom-client';
import { type Observable, tap, throwError } from 'rxjs';
import { type ErrorMapper, contractErrorMapper, toWireError } from './errors';

/**
 * A service's own work around each of its requests, run by the one request interceptor (a second interceptor would
 * cost each request another rxjs pipeline): `before` may refuse by throwing; `failed` sees each error a handler ended
 * with. Neither sees a value.
 */
export interface RequestHooks {
  before?(subject: string): void;
  failed?(subject: string, error: unknown): void;
}

const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Every service's requests, counted the same way (ARCHITECTURE.md §9): `<service>_requests_total{subject, code}`
 * (`OK` or the wire error code the caller got, a request body that failed to decode included) and
 * `<service>_request_duration_seconds{subject}`. Subjects come from the service's own patterns, without the
 * deployment's prefix; labels never carry a key, a value or anything else a caller chose.
 */
export class RequestMetricsInterceptor implements NestInterceptor {
  private readonly requests: Counter<'subject' | 'code'>;
  private readonly duration: Histogram<'subject'>;
  private readonly mappers: readonly ErrorMapper[];

  constructor(
    service: string,
    registry: Registry,
    private readonly subjectPrefix: string,
    /** The service's error mappers, as the error edge uses them, so the counted code is the one sent. */
    mappers: readonly ErrorMapper[] = [],
    private readonly hooks: RequestHooks = {},
  ) {
    this.mappers = [contractErrorMapper, ...mappers];
    this.requests = new Counter({
      name: `${service}_requests_total`,
      help: 'Requests handled, by subject and reply code (OK or the error code)',
      labelNames: ['subject', 'code'],
      registers: [registry],
    });
    this.duration = new Histogram({
      name: `${service}_request_duration_seconds`,
      help: 'Time to handle a request, by subject',
      labelNames: ['subject'],
      buckets: DURATION_BUCKETS,
      registers: [registry],
    });
  }

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    // HTTP (health, metrics) is not a request of the service's contract.
    if (context.getType() !== 'rpc') return next.handle();
    const subject = context.switchToRpc().getContext<NatsContext>().getSubject().slice(this.subjectPrefix.length);
    const stopTimer = this.duration.startTimer({ subject });
    let counted = false;
    const count = (code: string): void => {
      if (counted) return;
      counted = true;
      stopTimer();
      this.requests.inc({ subject, code });
    };
    const refused = (error: unknown): void => count(toWireError(error, this.mappers).code);
    try {
      this.hooks.before?.(subject);
    } catch (error) {
      refused(error);
      return throwError(() => error);
    }
    return next.handle().pipe(
      tap({
        next: () => count('OK'),
        complete: () => count('OK'),
        error: (error: unknown) => {
          this.hooks.failed?.(subject, error);
          refused(error);
        },
      }),
    );
  }
}
