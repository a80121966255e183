import { urlList } from '@platform/config';
import { JsonRequester } from '@platform/messaging';
import { type NatsConnection, ErrorCode, connect } from 'nats';
import { sleep } from './wait';

/** How one request ended, as an outside client sees it. */
export type CallOutcome =
  | { readonly kind: 'reply'; readonly body: Record<string, unknown> }
  /** An error reply: its `code` and `message`, and the `Nats-Service-Error-Code` header as a number. */
  | { readonly kind: 'error'; readonly code: string; readonly message: string; readonly status: number }
  | { readonly kind: 'no-responders' }
  | { readonly kind: 'timeout' }
  | { readonly kind: 'connection'; readonly message: string };

export interface CallOptions {
  readonly token: string;
  readonly headers?: Record<string, string>;
  readonly timeoutMs?: number;
}

export interface AcknowledgedWrite {
  readonly body: Record<string, unknown>;
  /** Every attempt before the one that was answered with success. */
  readonly failures: readonly CallOutcome[];
}

const DEFAULT_TIMEOUT_MS = 10_000;

/** Plain-JSON requests over a raw `nats` connection, as a Go program or the `nats` CLI would send them. */
export class PlatformClient {
  private readonly requester: JsonRequester;

  constructor(
    readonly connection: NatsConnection,
    readonly subjectPrefix: string,
  ) {
    this.requester = new JsonRequester(connection, subjectPrefix);
  }

  /** Connects to `url` and keeps reconnecting for as long as it is open (a broker outage must not close it). */
  static async connect(url: string, subjectPrefix: string): Promise<PlatformClient> {
    const connection = await connect({
      servers: urlList(url),
      name: 'reliability-client',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    });
    return new PlatformClient(connection, subjectPrefix);
  }

  /** One request; every way it can end is an outcome, never an exception. */
  async call(subject: string, body: unknown, options: CallOptions): Promise<CallOutcome> {
    let reply;
    try {
      reply = await this.requester.request<Record<string, unknown> & { error?: { code: string; message: string } }>(
        subject,
        body,
        { token: options.token, headers: options.headers, timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS },
      );
    } catch (error) {
      if (error instanceof SyntaxError) throw error; // an answer that is not JSON is a bug, not an outcome
      const code = (error as { code?: string }).code;
      if (code === ErrorCode.NoResponders) return { kind: 'no-responders' };
      if (code === ErrorCode.Timeout) return { kind: 'timeout' };
      return { kind: 'connection', message: `${code ?? ''} ${(error as Error).message}`.trim() };
    }
    const parsed = reply.body;
    if (parsed.error) {
      return { kind: 'error', code: parsed.error.code, message: parsed.error.message, status: reply.status ?? 0 };
    }
    return { kind: 'reply', body: parsed };
  }

  /**
   * A write retried with one `Idempotency-Key` until it is answered with success, as a careful client does after a
   * timeout or an error: the service promises the retry returns the first result and appends nothing more.
   */
  async writeUntilAcknowledged(
    subject: string,
    body: unknown,
    options: CallOptions & { readonly idempotencyKey: string; readonly giveUpAfterMs?: number },
  ): Promise<AcknowledgedWrite> {
    const failures: CallOutcome[] = [];
    const deadline = Date.now() + (options.giveUpAfterMs ?? 120_000);
    for (;;) {
      const outcome = await this.call(subject, body, {
        ...options,
        headers: { ...options.headers, 'Idempotency-Key': options.idempotencyKey },
      });
      if (outcome.kind === 'reply') return { body: outcome.body, failures };
      failures.push(outcome);
      if (Date.now() > deadline) {
        throw new Error(
          `${subject} with key ${options.idempotencyKey} failed ${failures.length} times: ${describeOutcome(outcome)}`,
        );
      }
      await sleep(Math.min(50 * failures.length, 500));
    }
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}

export function describeOutcome(outcome: CallOutcome): string {
  switch (outcome.kind) {
    case 'reply':
      return 'success';
    case 'error':
      return `${outcome.code}: ${outcome.message}`;
    case 'connection':
      return `connection: ${outcome.message}`;
    case 'no-responders':
    case 'timeout':
      return outcome.kind;
    default: {
      const _exhaustive: never = outcome;
      return _exhaustive;
    }
  }
}
