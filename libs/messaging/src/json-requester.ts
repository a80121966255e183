import { type MsgHdrs, type NatsConnection, headers as natsHeaders } from 'nats';

/** A reply as an outside client sees it: the JSON body, its text, and the error status header when it is an error. */
export interface JsonReply<T = Record<string, unknown>> {
  readonly body: T;
  readonly raw: string;
  /** The `Nats-Service-Error-Code` header as a number, or undefined on success. */
  readonly status?: number;
  readonly headers?: MsgHdrs;
}

export interface JsonRequestOptions {
  /** Sent as `Authorization: Bearer <token>`. */
  readonly token?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly timeoutMs: number;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/**
 * The platform as an outside client speaks to it (ARCHITECTURE.md §2): plain JSON requests over a raw `nats`
 * connection, as a Go program or the `nats` CLI would send them, under the deployment's subject prefix. The CLI and
 * the test clients build on it; a failed request (timeout, no responders) throws the `nats` error.
 */
export class JsonRequester {
  constructor(
    readonly connection: NatsConnection,
    readonly subjectPrefix: string,
  ) {}

  /** Sends `body` (an object is JSON-encoded; a string or bytes are sent as they are). */
  async request<T = Record<string, unknown>>(
    subject: string,
    body: unknown,
    options: JsonRequestOptions,
  ): Promise<JsonReply<T>> {
    const headers = natsHeaders();
    if (options.token) headers.set('Authorization', `Bearer ${options.token}`);
    for (const [name, value] of Object.entries(options.headers ?? {})) headers.set(name, value);
    const data =
      body instanceof Uint8Array ? body : encoder.encode(typeof body === 'string' ? body : JSON.stringify(body));
    const reply = await this.connection.request(this.subjectPrefix + subject, data, {
      timeout: options.timeoutMs,
      headers,
    });
    const raw = decoder.decode(reply.data);
    const status = reply.headers?.get('Nats-Service-Error-Code');
    return { body: JSON.parse(raw) as T, raw, status: status ? Number(status) : undefined, headers: reply.headers };
  }
}
