import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { type NatsContext } from '@nestjs/microservices';
import { ContractError } from '@platform/contracts';
import { type ErrorMapper, PlatformContext, toWireError } from '@platform/messaging';
import { type Observable, tap } from 'rxjs';
import { secretsErrorMappers } from './secrets.errors';
import { SecretsMetrics } from './secrets.metrics';
import { StoreAvailability } from './store-availability';
import { integrityReasonOf } from './stored-value';

const contractErrors: ErrorMapper = (error) =>
  error instanceof ContractError ? { code: error.code, message: error.message } : undefined;

/**
 * Around every secrets handler: fail fast while Postgres is down, count requests by subject and reply code, and
 * report every stored value withheld by an integrity check (an error line and a metric: someone changed the database).
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
    const stopTimer = this.metrics.duration.startTimer({ subject });
    const count = (code: string) => {
      stopTimer();
      this.metrics.requests.inc({ subject, code });
    };
    try {
      this.availability.assertAvailable();
    } catch (error) {
      count('UNAVAILABLE');
      throw error;
    }
    return next.handle().pipe(
      tap({
        next: () => count('OK'),
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
          count(toWireError(error, [contractErrors, ...secretsErrorMappers]).code);
        },
      }),
    );
  }
}
