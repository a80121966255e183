import { type CallHandler, type ExecutionContext } from '@nestjs/common';
import { ContractError } from '@platform/contracts';
import { Registry } from 'prom-client';
import { lastValueFrom, of, throwError } from 'rxjs';
import { PlatformError, type ErrorMapper } from './errors';
import { RequestMetricsInterceptor } from './request-metrics';

class ModuleError extends Error {}
const moduleErrors: ErrorMapper = (error) =>
  error instanceof ModuleError ? { code: 'VERSION_CONFLICT', message: error.message } : undefined;

function rpcContext(subject: string): ExecutionContext {
  return {
    getType: () => 'rpc',
    switchToRpc: () => ({ getContext: () => ({ getSubject: () => subject }) }),
  } as unknown as ExecutionContext;
}

const handled = (reply: unknown): CallHandler => ({ handle: () => of(reply) });
const failed = (error: unknown): CallHandler => ({ handle: () => throwError(() => error) });

describe('RequestMetricsInterceptor', () => {
  let registry: Registry;
  let interceptor: RequestMetricsInterceptor;

  beforeEach(() => {
    registry = new Registry();
    interceptor = new RequestMetricsInterceptor('demo', registry, 'tenant-a.', [moduleErrors]);
  });

  const counts = async (): Promise<Record<string, number>> => {
    const metric = await registry.getSingleMetric('demo_requests_total')!.get();
    return Object.fromEntries(metric.values.map((v) => [`${v.labels.subject} ${v.labels.code}`, v.value]));
  };

  it('counts each request by its subject without the prefix, and the code the caller got', async () => {
    await lastValueFrom(interceptor.intercept(rpcContext('tenant-a.demo.v1.get'), handled({ ok: true })));
    await lastValueFrom(interceptor.intercept(rpcContext('tenant-a.demo.v1.get'), handled({ ok: true })));
    await expect(
      lastValueFrom(interceptor.intercept(rpcContext('tenant-a.demo.v1.update'), failed(new ModuleError('stale')))),
    ).rejects.toThrow('stale');
    await expect(
      lastValueFrom(
        interceptor.intercept(rpcContext('tenant-a.demo.v1.get'), failed(new PlatformError('NOT_FOUND', 'gone'))),
      ),
    ).rejects.toThrow('gone');
    await expect(
      lastValueFrom(interceptor.intercept(rpcContext('tenant-a.demo.v1.get'), failed(new Error('boom')))),
    ).rejects.toThrow('boom');

    expect(await counts()).toEqual({
      'demo.v1.get OK': 2,
      'demo.v1.update VERSION_CONFLICT': 1,
      'demo.v1.get NOT_FOUND': 1,
      'demo.v1.get INTERNAL': 1,
    });
    const duration = await registry.getSingleMetric('demo_request_duration_seconds')!.get();
    const observed = duration.values.filter(
      (v) => (v as { metricName?: string }).metricName === 'demo_request_duration_seconds_count',
    );
    expect(Object.fromEntries(observed.map((v) => [v.labels.subject, v.value]))).toEqual({
      'demo.v1.get': 4,
      'demo.v1.update': 1,
    });
  });

  it('counts a body that failed to decode with the contract code it was refused with', async () => {
    const decode = new ContractError('PAYLOAD_TOO_LARGE', 'request body is larger than 1048576 bytes');
    await expect(lastValueFrom(interceptor.intercept(rpcContext('tenant-a.demo.v1.get'), failed(decode)))).rejects.toBe(
      decode,
    );
    expect(await counts()).toEqual({ 'demo.v1.get PAYLOAD_TOO_LARGE': 1 });
  });

  it("runs the service's hooks: a refusal before the handler is counted, each failure is seen", async () => {
    const seen: string[] = [];
    let refuse = true;
    const hooked = new RequestMetricsInterceptor('hooked', registry, 'tenant-a.', [moduleErrors], {
      before: (subject) => {
        if (refuse) throw new PlatformError('UNAVAILABLE', `${subject} is down`);
      },
      failed: (subject, error) => seen.push(`${subject} ${(error as Error).message}`),
    });
    const handler = jest.fn(() => of('never'));
    await expect(
      lastValueFrom(hooked.intercept(rpcContext('tenant-a.demo.v1.get'), { handle: handler })),
    ).rejects.toThrow('demo.v1.get is down');
    expect(handler).not.toHaveBeenCalled();
    refuse = false;
    await expect(
      lastValueFrom(hooked.intercept(rpcContext('tenant-a.demo.v1.update'), failed(new ModuleError('stale')))),
    ).rejects.toThrow('stale');
    await lastValueFrom(hooked.intercept(rpcContext('tenant-a.demo.v1.get'), handled('ok')));

    expect(seen).toEqual(['demo.v1.update stale']);
    const metric = await registry.getSingleMetric('hooked_requests_total')!.get();
    expect(Object.fromEntries(metric.values.map((v) => [`${v.labels.subject} ${v.labels.code}`, v.value]))).toEqual({
      'demo.v1.get UNAVAILABLE': 1,
      'demo.v1.update VERSION_CONFLICT': 1,
      'demo.v1.get OK': 1,
    });
  });

  it('counts nothing for HTTP (health and metrics)', async () => {
    const http = { getType: () => 'http' } as unknown as ExecutionContext;
    await lastValueFrom(interceptor.intercept(http, handled('ok')));
    expect(await counts()).toEqual({});
  });
});
