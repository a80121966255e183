import { type Msg, type NatsConnection } from 'nats';
import { Registry } from 'prom-client';
import { of, throwError } from 'rxjs';
import { PlatformNatsServer } from './nats-transport';
import { RequestMetrics } from './request-metrics';

/** A request as the transport receives it, resolving `replied` with the reply's code header when it is answered. */
function request(subject: string, reply: string | undefined) {
  let answer: (code: string | undefined) => void = () => undefined;
  const replied = new Promise<string | undefined>((resolve) => (answer = resolve));
  const message = {
    subject,
    reply,
    data: new TextEncoder().encode('{}'),
    headers: undefined,
    respond: (_data: Uint8Array, options?: { headers?: { get(name: string): string } }) => {
      answer(options?.headers?.get('Nats-Service-Error-Code'));
      return true;
    },
  } as unknown as Msg;
  return { message, replied };
}

describe('RequestMetrics, counted where the transport answers', () => {
  let registry: Registry;
  let server: PlatformNatsServer;
  const dropped: string[] = [];

  beforeEach(() => {
    registry = new Registry();
    server = new PlatformNatsServer({
      connection: {} as NatsConnection,
      queue: 'demo',
      subjectPrefix: 'tenant-a.',
      replyPrefixes: ['_INBOX.'],
      onDropped: ({ subject }) => dropped.push(subject),
      requests: new RequestMetrics('demo', registry),
    });
    server.addHandler('demo.v1.get', () => Promise.resolve(of({ ok: true })));
    server.addHandler('demo.v1.update', () =>
      Promise.resolve(throwError(() => ({ code: 'VERSION_CONFLICT', message: 'stale' }))),
    );
    server.addHandler('demo.v1.fail', () => Promise.resolve(throwError(() => new Error('not a wire error'))));
  });

  const counts = async (): Promise<Record<string, number>> => {
    const metric = await registry.getSingleMetric('demo_requests_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [`${v.labels.subject} ${v.labels.code}`, v.value]));
  };

  const send = async (channel: string, reply: string | undefined = '_INBOX.1') => {
    const { message, replied } = request(`tenant-a.${channel}`, reply);
    await server.handleMessage(channel, message);
    return replied;
  };

  it('counts each request answered by its subject without the prefix and the code of the reply sent', async () => {
    expect(await send('demo.v1.get')).toBeUndefined();
    expect(await send('demo.v1.get')).toBeUndefined();
    expect(await send('demo.v1.update')).toBe('409');
    expect(await send('demo.v1.fail')).toBe('500');

    expect(await counts()).toEqual({
      'demo.v1.get OK': 2,
      'demo.v1.update VERSION_CONFLICT': 1,
      'demo.v1.fail INTERNAL': 1,
    });
    const duration = await registry.getSingleMetric('demo_request_duration_seconds')!.get();
    const observed = duration.values.filter(
      (v) => (v as { metricName?: string }).metricName === 'demo_request_duration_seconds_count',
    );
    expect(Object.fromEntries(observed.map((v) => [v.labels.subject, v.value]))).toEqual({
      'demo.v1.get': 2,
      'demo.v1.update': 1,
      'demo.v1.fail': 1,
    });
  });

  it('counts nothing for a request dropped for its reply subject', async () => {
    const { message } = request('tenant-a.demo.v1.get', 'secrets.events.acme.X');
    await server.handleMessage('demo.v1.get', message);
    expect(dropped).toContain('tenant-a.demo.v1.get');
    expect(await counts()).toEqual({});
  });

  it('counts a request once even when Nest sends a second packet for it', () => {
    const metrics = new RequestMetrics('once', registry);
    const counted = metrics.start('demo.v1.get');
    counted('OK');
    counted('INTERNAL');
    return expect(
      registry
        .getSingleMetric('once_requests_total')!
        .get()
        .then((metric) => metric.values.map((v) => [v.labels.code, v.value])),
    ).resolves.toEqual([['OK', 1]]);
  });
});
