import { Injectable } from '@nestjs/common';
import { PlatformContext, type RequestHooks } from '@platform/messaging';
import { SecretsMetrics } from './secrets.metrics';
import { StoreAvailability } from './store-availability';
import { integrityReasonOf } from './stored-value';

/**
 * Around every secrets request, run by the platform's guard and error edge: fail fast while Postgres is down, and
 * report every stored value withheld by an integrity check (an error line and a metric: someone changed the database).
 */
@Injectable()
export class SecretsRequestHooks implements RequestHooks {
  constructor(
    private readonly platform: PlatformContext,
    private readonly metrics: SecretsMetrics,
    private readonly availability: StoreAvailability,
  ) {}

  before(): void {
    this.availability.assertAvailable();
  }

  failed(subject: string, error: unknown): void {
    this.availability.observe(error);
    const reason = integrityReasonOf(error);
    if (reason === undefined) return;
    this.metrics.integrityFailures.inc({ reason });
    // Names the place only (stream, version, reason): never the value or its ciphertext.
    this.platform.logger.error(
      { subject, ...(error as { details?: object }).details },
      'stored value failed its integrity check; withheld',
    );
  }
}
