// Shared body of prefix-isolation-a/-b.e2e-spec.ts: two test files, run by two jest workers at once, each with its
// own NATS_SUBJECT_PREFIX on the same server and the same subject. Each counts what its handler was called with and
// what its client got back, and watches the subject under every prefix to see the other file's traffic go by.
import { randomBytes } from 'node:crypto';
import { Controller, Module } from '@nestjs/common';
import { MessagePattern } from '@nestjs/microservices';
import { GetSecretRequestSchema, type GetSecretRequest } from '@platform/contracts';
import { type Environment, loadServiceConfig } from '@platform/config';
import { PlatformContext, RequestBody, type ServiceDefinition } from '@platform/messaging';
import { startTestPlatform } from '@platform/testing';

export const ISOLATION_SUBJECT = 'probe.v1.isolation';
/** How long a file keeps sending while it waits to see the other file's traffic. */
const WINDOW_MS = 10_000;
const REQUEST_EVERY_MS = 20;

export interface IsolationRun {
  readonly prefix: string;
  /** The `key` of every request this file's handler was called with. */
  readonly handled: readonly string[];
  /** The `servedBy` prefix of every reply this file's client received. */
  readonly repliesFrom: readonly string[];
  /** Keys this file sent (each once). */
  readonly sent: readonly string[];
  /** Requests on the subject under another prefix, seen on the wire during the window: the other file's. */
  readonly othersSeen: number;
  /** Requests on the subject under this file's prefix, seen on the wire. */
  readonly ownSeen: number;
}

/** Runs one file's side: a service and a client under a fresh prefix, a window of requests, every count kept. */
export async function runIsolationProbe(file: string): Promise<IsolationRun> {
  const handled: string[] = [];

  @Controller()
  class IsolationController {
    constructor(private readonly platform: PlatformContext) {}

    @MessagePattern(ISOLATION_SUBJECT)
    probe(@RequestBody(GetSecretRequestSchema) request: GetSecretRequest) {
      handled.push(request.key);
      return { key: request.key, servedBy: this.platform.config.subjectPrefix };
    }
  }

  @Module({ controllers: [IsolationController] })
  class IsolationModule {}

  const definition = (env: Environment): ServiceDefinition => ({
    name: 'render',
    config: loadServiceConfig('render', {}, env),
    scopes: [],
    streams: [],
    module: () => IsolationModule,
  });

  const platform = await startTestPlatform([definition], { database: false });
  const { prefix, client } = platform;
  try {
    const token = await platform.tokens.vendor('acme');
    let othersSeen = 0;
    let ownSeen = 0;
    // Every prefix's requests on the subject: the other file's traffic proves the two ran at the same time.
    const watcher = client.connection.subscribe(`*.${ISOLATION_SUBJECT}`, {
      callback: (_error, message) => {
        if (message.subject === prefix + ISOLATION_SUBJECT) ownSeen++;
        else othersSeen++;
      },
    });
    await client.connection.flush();

    const sent: string[] = [];
    const repliesFrom: string[] = [];
    const run = randomBytes(3).toString('hex');
    const windowEnds = Date.now() + WINDOW_MS;
    // Send until the other file has been seen for a while (both windows overlap), or the window closes.
    let seenSince: number | undefined;
    while (Date.now() < windowEnds && (seenSince === undefined || Date.now() - seenSince < 1_000)) {
      const key = `${file}_${run}_${sent.length}`.toUpperCase();
      sent.push(key);
      const reply = await client.request<{ key: string; servedBy: string }>(ISOLATION_SUBJECT, { key }, { token });
      repliesFrom.push(reply.body.servedBy);
      if (othersSeen > 0) seenSince ??= Date.now();
      await new Promise((resolve) => setTimeout(resolve, REQUEST_EVERY_MS));
    }
    await client.connection.flush();
    watcher.unsubscribe();
    return { prefix, handled: [...handled], repliesFrom, sent, othersSeen, ownSeen };
  } finally {
    await platform.close();
  }
}

/** The assertions both files make of their own run. */
export function expectIsolated(run: IsolationRun): void {
  // The handler was called once per request this file sent, and with nothing else: no other file's request.
  expect(run.handled).toEqual(run.sent);
  // Every reply came from this file's service.
  expect(new Set(run.repliesFrom)).toEqual(new Set([run.prefix]));
  expect(run.repliesFrom).toHaveLength(run.sent.length);
  // On the wire under this prefix: exactly this file's requests.
  expect(run.ownSeen).toBe(run.sent.length);
}
