import { randomUUID } from 'node:crypto';
import { timestampDate } from '@bufbuild/protobuf/wkt';
import { type ReportExposureRequest } from '@platform/contracts';
import { type PostgresEventStore } from '@platform/event-store';
import { type Principal, actorOf, assertIdentifier } from '@platform/messaging';
import { type SecretPublication } from '../outbox/secret-publication';
import { type EventMetadata, type SecretScope } from '../secrets/secret';
import { assertValidKey } from '../secrets/secret.decider';
import { SecretsError, SecretsErrorCode } from '../secrets/secrets.error';
import { SECRET_EXPOSED, type SecretExposedData, exposureStreamId } from './secret-exposure';
import { secretVersionOf } from './secret-exposure.repository';

/** The one platform service that may report exposures, with its own key and this scope (ARCHITECTURE.md §4). */
export const EXPOSURE_REPORTER = 'redaction';
export const REPORT_EXPOSURE_SCOPE = 'secrets:report-exposure';
/** A sighting reported from the future beyond this is refused: clocks differ, but not by minutes. */
const CLOCK_LEEWAY_MS = 60_000;
const MAX_LINE_COUNT = 2 ** 31 - 1;

function invalid(field: string, message: string): SecretsError {
  return new SecretsError(SecretsErrorCode.INVALID_ARGUMENT, `${field} ${message}`, { field });
}

/**
 * Only redaction's own single-use token (signed by its `service:redaction` key) with `secrets:report-exposure` may
 * report: the key that signed it is checked, not only its claims, so the proof does not rest on the token policy alone.
 */
export function assertExposureReporter(principal: Principal): void {
  if (
    principal.orgType !== 'service' ||
    principal.signedByService !== EXPOSURE_REPORTER ||
    !principal.scopes.has(REPORT_EXPOSURE_SCOPE)
  ) {
    throw new SecretsError(
      SecretsErrorCode.PERMISSION_DENIED,
      `only the redaction service's own token with scope ${REPORT_EXPOSURE_SCOPE} may report exposures`,
    );
  }
}

function instantOf(field: string, value: ReportExposureRequest['firstSeenAt']): Date {
  if (value === undefined) throw invalid(field, 'is required');
  const date = timestampDate(value);
  if (Number.isNaN(date.getTime())) throw invalid(field, 'is not a valid instant');
  return date;
}

/** The report's fields checked, as the event's data; never a value (there is none to carry). */
export function exposureDataOf(request: ReportExposureRequest, now: Date): SecretExposedData {
  assertIdentifier('organizationId', request.organizationId);
  if (request.customerOrganizationId !== undefined) {
    assertIdentifier('customerOrganizationId', request.customerOrganizationId);
  }
  assertIdentifier('deploymentId', request.deploymentId);
  assertValidKey(request.key);
  if (request.scope !== 'vendor' && request.scope !== 'customer') throw invalid('scope', 'must be vendor or customer');
  if (request.scope === 'customer' && request.customerOrganizationId === undefined) {
    throw invalid('scope', "customer needs the deployment's customerOrganizationId");
  }
  if (request.version < 1) throw invalid('version', 'must be at least 1');
  if (request.lineCount < 1 || request.lineCount > MAX_LINE_COUNT) {
    throw invalid('lineCount', `must be 1 to ${MAX_LINE_COUNT}`);
  }
  const first = instantOf('firstSeenAt', request.firstSeenAt);
  const last = instantOf('lastSeenAt', request.lastSeenAt);
  if (last < first) throw invalid('lastSeenAt', 'is before firstSeenAt');
  if (last.getTime() > now.getTime() + CLOCK_LEEWAY_MS) throw invalid('lastSeenAt', 'is in the future');
  return {
    organizationId: request.organizationId,
    customerOrganizationId: request.customerOrganizationId ?? null,
    deploymentId: request.deploymentId,
    key: request.key,
    scope: request.scope,
    version: request.version,
    lineCount: request.lineCount,
    firstSeenAt: first.toISOString(),
    lastSeenAt: last.toISOString(),
  };
}

/**
 * `secrets.v1.reportexposure` (ARCHITECTURE.md §3): redaction masked a value in a deployment's log. Appends one
 * `SecretExposed` to the deployment's exposure stream; `secret_exposure` follows in the same transaction.
 */
export class ExposureLog {
  constructor(
    private readonly store: PostgresEventStore,
    private readonly publication?: SecretPublication,
    /** Told of each recorded exposure, by whose key it was (a metric). */
    private readonly recorded: (scope: SecretExposedData['scope']) => void = () => undefined,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  async report(principal: Principal, request: ReportExposureRequest): Promise<{ eventId: string }> {
    assertExposureReporter(principal);
    const now = this.clock();
    const data = exposureDataOf(request, now);
    const keyCustomer = data.scope === 'customer' ? (data.customerOrganizationId ?? '') : '';
    const current = await secretVersionOf(this.store, data.organizationId, keyCustomer, data.key);
    // No secret of that key in that scope reached that version: nothing it could have printed.
    if (current === undefined || data.version > current) {
      throw new SecretsError(
        SecretsErrorCode.NOT_FOUND,
        `secret ${JSON.stringify(data.key)} has no version ${data.version} in that scope`,
        { key: data.key },
      );
    }
    const scope: SecretScope = {
      organizationId: data.organizationId,
      customerOrganizationId: data.customerOrganizationId,
    };
    const metadata: EventMetadata = { actor: actorOf(principal), occurredAt: now.toISOString() };
    const eventId = randomUUID();
    const { events } = await this.store.appendToStream(
      exposureStreamId(scope, data.deploymentId),
      [{ type: SECRET_EXPOSED, eventId, data, metadata }],
      { expectedVersion: 'any' },
    );
    this.recorded(data.scope);
    await this.publication?.afterWrite(events[events.length - 1]);
    return { eventId };
  }
}
