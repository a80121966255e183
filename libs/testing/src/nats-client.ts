import { type MsgHdrs, type NatsConnection, connect, headers as natsHeaders } from 'nats';
import { testInfrastructure } from './infrastructure';

export interface Reply<T = Record<string, unknown>> {
  readonly body: T;
  readonly raw: string;
  /** The `Nats-Service-Error-Code` header as a number, or undefined on success. */
  readonly status?: number;
  readonly headers?: MsgHdrs;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** An outside client: plain JSON requests over a raw `nats` connection, as a Go program or the `nats` CLI would send. */
export class TestNatsClient {
  private constructor(
    readonly connection: NatsConnection,
    readonly subjectPrefix: string,
  ) {}

  static async connect(subjectPrefix: string): Promise<TestNatsClient> {
    return new TestNatsClient(
      await connect({ servers: testInfrastructure().natsUrl, name: 'test-client' }),
      subjectPrefix,
    );
  }

  /** Sends `body` (an object is JSON-encoded; a string or bytes are sent as they are). */
  async request<T = Record<string, unknown>>(
    subject: string,
    body: unknown,
    options: { token?: string; headers?: Record<string, string>; timeoutMs?: number } = {},
  ): Promise<Reply<T>> {
    const headers = natsHeaders();
    if (options.token) headers.set('Authorization', `Bearer ${options.token}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    const data =
      body instanceof Uint8Array ? body : encoder.encode(typeof body === 'string' ? body : JSON.stringify(body));
    const reply = await this.connection.request(this.subjectPrefix + subject, data, {
      timeout: options.timeoutMs ?? 10_000,
      headers,
    });
    const raw = decoder.decode(reply.data);
    const code = reply.headers?.get('Nats-Service-Error-Code');
    return { body: JSON.parse(raw) as T, raw, status: code ? Number(code) : undefined, headers: reply.headers };
  }

  async close(): Promise<void> {
    await this.connection.drain();
  }
}
