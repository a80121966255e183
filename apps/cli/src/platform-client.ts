import { ErrorCode, type NatsConnection, connect } from 'nats';
import { urlList } from '@platform/config';
import { JsonRequester, type NatsSecuritySettings, natsConnectionOptions } from '@platform/messaging';
import { CliError, EXIT, exitCodeForWireCode, explainWireError } from './cli-error';

/** NATS user and credential where the server requires them, and TLS (deploy/nats/nats-server.conf). */
export interface ClientSettings extends NatsSecuritySettings {
  readonly natsUrl: string;
  readonly subjectPrefix: string;
  readonly token?: string;
  readonly timeoutMs: number;
}

const encoder = new TextEncoder();

/** A request NATS cannot carry, refused before it is sent, naming the server's limit. */
function tooLarge(subject: string, bytes: number, maxPayload: number): CliError {
  return new CliError(
    `the ${subject} request (${bytes} bytes and its headers) does not fit the NATS server's max_payload of ` +
      `${maxPayload} bytes (${(maxPayload / 1024 / 1024).toFixed(1)} MiB); send less, e.g. a smaller template`,
    EXIT.REFUSED,
  );
}

/** Talks to the platform over plain-JSON NATS, as any outside client would. */
export class PlatformClient {
  private readonly requester: JsonRequester;

  private constructor(
    readonly connection: NatsConnection,
    private readonly settings: ClientSettings,
  ) {
    this.requester = new JsonRequester(connection, settings.subjectPrefix);
  }

  static async connect(settings: ClientSettings): Promise<PlatformClient> {
    try {
      return new PlatformClient(
        await connect({
          servers: urlList(settings.natsUrl),
          name: 'secrets-cli',
          maxReconnectAttempts: 0,
          timeout: 3000,
          // The services' TLS and credential settings; with a NATS user, replies come to its own inboxes.
          ...natsConnectionOptions(settings),
        }),
        settings,
      );
    } catch {
      throw new CliError(`cannot reach NATS at ${settings.natsUrl}`, EXIT.UNAVAILABLE);
    }
  }

  subject(subject: string): string {
    return this.settings.subjectPrefix + subject;
  }

  async request<T>(subject: string, body: object): Promise<T> {
    if (!this.settings.token) throw new CliError('no token: set SECRETS_TOKEN or pass --token', EXIT.DENIED);
    const data = encoder.encode(JSON.stringify(body));
    // The server's own limit, learnt at connect: a larger message is never sent (nats.js refuses it too).
    const maxPayload = this.connection.info?.max_payload;
    if (maxPayload !== undefined && data.byteLength > maxPayload) throw tooLarge(subject, data.byteLength, maxPayload);
    let reply;
    try {
      reply = await this.requester.request<
        T & { error?: { code: string; message: string; details?: Record<string, unknown> } }
      >(subject, data, { token: this.settings.token, timeoutMs: this.settings.timeoutMs });
    } catch (error) {
      if (error instanceof SyntaxError) throw error; // an answer that is not JSON is a bug, not an outage
      // Body and headers together over the limit.
      if ((error as { code?: string }).code === ErrorCode.MaxPayloadExceeded && maxPayload !== undefined) {
        throw tooLarge(subject, data.byteLength, maxPayload);
      }
      throw new CliError(`the ${subject.split('.')[0]} service did not answer ${subject}`, EXIT.UNAVAILABLE);
    }
    const parsed = reply.body;
    if (reply.status !== undefined && parsed.error) {
      const { code, message, details } = parsed.error;
      throw new CliError(`${code}: ${explainWireError(code, message)}`, exitCodeForWireCode(code), { code, details });
    }
    return parsed;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }
}
