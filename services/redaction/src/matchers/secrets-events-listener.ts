import { type ConsumerMessages, DeliverPolicy, type JsMsg, type NatsConnection } from 'nats';
import { type Logger } from 'pino';
import { VALUE_NEUTRAL_EVENT_TYPES } from '@platform/contracts';
import { IDENTIFIER_PATTERN, prefixedStreamName } from '@platform/messaging';
import { type ScopeMatchers } from './scope-matchers';

/** Which cached matchers a SECRETS_EVENTS message makes stale. */
export type MatcherChange =
  | { readonly kind: 'none' }
  | { readonly kind: 'customer'; readonly organizationId: string; readonly customerOrganizationId: string }
  | { readonly kind: 'organization'; readonly organizationId: string }
  | { readonly kind: 'everything' };

/**
 * Events that change no value (VALUE_NEUTRAL_EVENT_TYPES): exposures among them are this service's own reports, and
 * rebuilding on them would answer each masked line with a rebuild.
 */
const VALUE_NEUTRAL_TYPES: ReadonlySet<string> = new Set(VALUE_NEUTRAL_EVENT_TYPES);

/**
 * What an event on `secrets.events.>` invalidates: a customer's change its scope, a vendor-level change or purge
 * the whole organization, and anything unreadable everything (a wrong guess costs a rebuild, never a leak).
 */
export function matcherChangeOf(payload: Uint8Array): MatcherChange {
  let event: { type?: unknown; organizationId?: unknown; customerOrganizationId?: unknown };
  try {
    event = JSON.parse(Buffer.from(payload).toString('utf8')) as typeof event;
  } catch {
    return { kind: 'everything' };
  }
  if (typeof event !== 'object' || event === null || typeof event.type !== 'string') return { kind: 'everything' };
  if (VALUE_NEUTRAL_TYPES.has(event.type)) return { kind: 'none' };
  const { organizationId, customerOrganizationId } = event;
  if (typeof organizationId !== 'string' || !IDENTIFIER_PATTERN.test(organizationId)) return { kind: 'everything' };
  if (event.type === 'OrganizationPurged' || customerOrganizationId === null || customerOrganizationId === undefined) {
    return { kind: 'organization', organizationId };
  }
  if (typeof customerOrganizationId !== 'string' || !IDENTIFIER_PATTERN.test(customerOrganizationId)) {
    return { kind: 'organization', organizationId };
  }
  return { kind: 'customer', organizationId, customerOrganizationId };
}

export function applyMatcherChange(matchers: ScopeMatchers, change: MatcherChange): void {
  switch (change.kind) {
    case 'none':
      return;
    case 'customer':
      return matchers.invalidateScope(change.organizationId, change.customerOrganizationId);
    case 'organization':
      return matchers.invalidateOrganization(change.organizationId);
    case 'everything':
      return matchers.invalidateAll();
    default: {
      const _exhaustive: never = change;
      return _exhaustive;
    }
  }
}

const RESUBSCRIBE_MS = 1_000;
const CATCH_UP_POLL_MS = 5;

/**
 * Follows SECRETS_EVENTS from "now" with an ordered (ephemeral, unacknowledged) consumer and invalidates the
 * matchers each change touches. Every instance has its own: each caches its own matchers.
 */
export class SecretsEventsListener {
  private messages: ConsumerMessages | undefined;
  private stopping = false;
  private listening: Promise<void> | undefined;
  private subscribed = false;
  /** The SECRETS_EVENTS sequence up to which every change has been applied to the matchers. */
  private appliedSequence = 0;

  constructor(
    private readonly nats: NatsConnection,
    private readonly subjectPrefix: string,
    private readonly matchers: ScopeMatchers,
    private readonly logger: Logger,
  ) {}

  /** Resolves once the consumer exists, so no change after this point is missed. */
  async start(): Promise<void> {
    await this.subscribe();
    this.listening = this.listen();
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.messages?.stop();
    await this.listening;
  }

  isListening(): boolean {
    return this.subscribed;
  }

  private async subscribe(): Promise<void> {
    const stream = prefixedStreamName(this.subjectPrefix, 'SECRETS_EVENTS');
    const js = this.nats.jetstream();
    const { state } = await (await this.nats.jetstreamManager()).streams.info(stream);
    this.appliedSequence = state.last_seq;
    // From the next sequence rather than DeliverPolicy.New: an ordered consumer's reset then resumes there, not at 1.
    const consumer = await js.consumers.get(stream, {
      filterSubjects: `${this.subjectPrefix}secrets.events.>`,
      deliver_policy: DeliverPolicy.StartSequence,
      opt_start_seq: state.last_seq + 1,
    });
    this.messages = await consumer.consume({ max_messages: 256 });
    this.subscribed = true;
  }

  private async listen(): Promise<void> {
    while (!this.stopping) {
      try {
        if (!this.messages) {
          await this.subscribe();
          // Changes may have been missed while unsubscribed: nothing cached before now can be trusted.
          this.matchers.invalidateAll();
        }
        for await (const message of this.messages!) this.apply(message);
      } catch (error) {
        if (this.stopping) break;
        this.logger.warn({ err: error }, 'lost the SECRETS_EVENTS subscription; resubscribing');
      }
      this.messages = undefined;
      this.subscribed = false;
      if (this.stopping) break;
      await new Promise((resolve) => setTimeout(resolve, RESUBSCRIBE_MS));
    }
    this.subscribed = false;
  }

  private apply(message: JsMsg): void {
    applyMatcherChange(this.matchers, matcherChangeOf(message.data));
    this.appliedSequence = message.seq;
  }

  /**
   * Resolves once every change already stored in SECRETS_EVENTS has been applied to the matchers; throws if that
   * does not happen within `timeoutMs`. The log consumer and this listener are separate deliveries that NATS may
   * serve out of step under load, so a line is only redacted after this barrier (fail closed otherwise).
   */
  async caughtUp(timeoutMs: number): Promise<void> {
    const stream = prefixedStreamName(this.subjectPrefix, 'SECRETS_EVENTS');
    const { state } = await (await this.nats.jetstreamManager()).streams.info(stream);
    const deadline = Date.now() + timeoutMs;
    while (!this.subscribed || this.appliedSequence < state.last_seq) {
      if (Date.now() > deadline) throw new Error('SECRETS_EVENTS listener is behind the stream');
      await new Promise((resolve) => setTimeout(resolve, CATCH_UP_POLL_MS));
    }
  }
}
