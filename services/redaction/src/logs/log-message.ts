import { type MsgHdrs, headers as natsHeaders } from 'nats';
import { IDENTIFIER_PATTERN, type Scope } from '@platform/messaging';

/** Largest raw log message redacted; a larger one is terminated, never published (ARCHITECTURE.md §2). */
export const MAX_LOG_MESSAGE_BYTES = 1024 * 1024;
/** Header added to every redacted message: how many regions were masked. */
export const REDACTED_COUNT_HEADER = 'Redacted-Count';

const RAW_ROOT = 'logs.raw.';
const REDACTED_ROOT = 'logs.redacted.';
/** `_` in the customer position means "no customer" (ARCHITECTURE.md §2). */
const NO_CUSTOMER = '_';

/** Where a raw log line came from, read from its subject `logs.raw.<org>.<customer|_>.<deployment>[.…]`. */
export interface LogSource {
  readonly scope: Scope;
  readonly deploymentId: string;
  /** The subject the redacted line is published on, prefix included. */
  readonly redactedSubject: string;
}

/** The source of a raw log subject (with `prefix`), or undefined when its tokens are not valid identifiers. */
export function logSourceOf(subject: string, prefix: string): LogSource | undefined {
  const root = prefix + RAW_ROOT;
  if (!subject.startsWith(root)) return undefined;
  const tail = subject.slice(root.length);
  const [organizationId, customer, deploymentId, ...rest] = tail.split('.');
  if (deploymentId === undefined || rest.some((token) => token.length === 0)) return undefined;
  if (!IDENTIFIER_PATTERN.test(organizationId) || !IDENTIFIER_PATTERN.test(deploymentId)) return undefined;
  if (customer !== NO_CUSTOMER && !IDENTIFIER_PATTERN.test(customer)) return undefined;
  return {
    scope: { organizationId, customerOrganizationId: customer === NO_CUSTOMER ? null : customer },
    deploymentId,
    redactedSubject: prefix + REDACTED_ROOT + tail,
  };
}

/**
 * JetStream reads `Nats-*` headers on publish (message id, expected sequence, rollup, TTL); a shipper's must not
 * steer how the redacted copy is stored, so they are not carried over.
 */
function isServerDirective(name: string): boolean {
  return name.toLowerCase().startsWith('nats-');
}

/** Whether a shipper's header is left out of the redacted copy: a JetStream directive, or a forged count. */
function isDropped(name: string): boolean {
  return isServerDirective(name) || name.toLowerCase() === REDACTED_COUNT_HEADER.toLowerCase();
}

/**
 * The headers of the redacted copy: the shipper's own headers, names and values each passed through `redact` (a
 * header carries a secret in its name as easily as in its value), and `Redacted-Count` = masks in body and headers
 * together. A masked name is still a legal NATS header name (`*` is a visible ASCII character other than `:`); names
 * that become equal once masked are one header holding every value of each, in their order.
 */
export function redactedHeaders(
  original: MsgHdrs | undefined,
  bodyMasks: number,
  redact: (text: string) => { output: string; count: number },
): { headers: MsgHdrs; count: number } {
  const headers = natsHeaders();
  let count = bodyMasks;
  if (original) {
    for (const [name, values] of original) {
      if (isDropped(name)) continue;
      const redactedName = redact(name);
      count += redactedName.count;
      for (const value of values) {
        const redacted = redact(value);
        count += redacted.count;
        headers.append(redactedName.output, redacted.output);
      }
    }
  }
  headers.set(REDACTED_COUNT_HEADER, String(count));
  return { headers, count };
}

/** The id LOGS deduplicates on: a redelivery of the same raw message (same stream sequence) is stored once. */
export function redactedMessageId(rawStreamSequence: number): string {
  return `logs-raw-${rawStreamSequence}`;
}
