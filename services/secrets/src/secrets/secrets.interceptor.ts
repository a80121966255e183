import { type CallHandler, type ExecutionContext, Injectable, type NestInterceptor } from '@nestjs/common';
import { type NatsContext } from '@nestjs/microservices';
import { ContractError } from '@platform/contracts';
import { type ErrorMapper, PlatformContext, toWireError } from '@platform/messaging';
import { type Observable, tap } from 'rxjs';
import { secretsErrorMappers } from './secrets.errors';
import { SecretsMetrics } from './secrets.metrics';
import { StoreAvailability } from './store-availability';

const contractErrors: ErrorMapper = (error) =>
  error instanceof ContractError ? { code: error.code, message: error.message } : undefined;

/** Around every secrets handler: fail fast while Postgres is down, and count requests by subject and reply code. */
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
          count(toWireError(error, [contractErrors, ...secretsErrorMappers]).code);
        },
      }),
    );
  }
}
