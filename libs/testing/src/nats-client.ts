import { JsonRequester, type JsonReply } from '@platform/messaging';
import { type NatsConnection, connect } from 'nats';
import { testInfrastructure } from './infrastructure';

export type Reply<T = Record<string, unknown>> = JsonReply<T>;

/** An outside client: plain JSON requests over a raw `nats` connection, as a Go program or the `nats` CLI would send. */
export class TestNatsClient {
  private readonly requester: JsonRequester;

  private constructor(
    readonly connection: NatsConnection,
    readonly subjectPrefix: string,
  ) {
    this.requester = new JsonRequester(connection, subjectPrefix);
  }

  static async connect(subjectPrefix: string): Promise<TestNatsClient> {
    return new TestNatsClient(
      await connect({ servers: testInfrastructure().natsUrl, name: 'test-client' }),
      subjectPrefix,
    );
  }

  /** Sends `body` (an object is JSON-encoded; a string or bytes are sent as they are). */
  request<T = Record<string, unknown>>(
    subject: string,
    body: unknown,
    options: { token?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Reply<T>> {
    return this.requester.request<T>(subject, body, { ...options, timeoutMs: options.timeoutMs ?? 10_000 });
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}
