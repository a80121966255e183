import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { type NatsContext } from '@nestjs/microservices';
import { PlatformContext } from '@platform/messaging';
import { type Observable, tap } from 'rxjs';
import { SecretsMetrics } from './secrets.metrics';
import { StoreAvailability } from './store-availability';
import { integrityReasonOf } from './stored-value';

/**
 * Around every secrets handler: fail fast while Postgres is down, and report every stored value withheld by an
 * integrity check (an error line and a metric: someone changed the database). Requests are counted by the platform's
 * RequestMetricsInterceptor, around this one.
 */
@Injectable()
export class SecretsInterceptor implements NestInterceptor {
  constructor(
    private readonly platform: PlatformContext,
    private readonly metrics: SecretsMetrics,
    private readonly availability: StoreAvailability,
  ) {}

  intercept(context: ExecutionContext, next: CallHandler): Observable<unknown> {
    const subject = context
      .switchToRpc()
      .getContext<NatsContext>()
      .getSubject()
      .slice(this.platform.config.subjectPrefix.length);
    this.availability.assertAvailable();
    return next.handle().pipe(
      tap({
        error: (error: unknown) => {
          this.availability.observe(error);
          const reason = integrityReasonOf(error);
          if (reason !== undefined) {
            this.metrics.integrityFailures.inc({ reason });
            // Names the place only (stream, version, reason): never the value or its ciphertext.
            this.platform.logger.error(
              { subject, ...(error as { details?: object }).details },
              'stored value failed its integrity check; withheld',
            );
          }
        },
      }),
    );
  }
}
