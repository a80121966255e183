import { EventStoreError, EventStoreErrorCode } from '@platform/event-store';
import { type PlatformContext } from '@platform/messaging';
import { Registry } from 'prom-client';
import { ValueCache } from '../resolve/value-cache';
import { SecretsError, SecretsErrorCode } from './secrets.error';
import { SecretsMetrics } from './secrets.metrics';
import { SecretsRequestHooks } from './secrets-request-hooks';
import { StoreAvailability } from './store-availability';

describe('SecretsRequestHooks', () => {
  const setUp = () => {
    const registry = new Registry();
    const metrics = new SecretsMetrics(registry, new ValueCache());
    const availability = new StoreAvailability(() => Promise.resolve(true));
    const logged: Array<{ fields: object; message: string }> = [];
    const platform = {
      logger: { error: (fields: object, message: string) => logged.push({ fields, message }) },
    } as unknown as PlatformContext;
    return { registry, availability, logged, hooks: new SecretsRequestHooks(platform, metrics, availability) };
  };

  it('refuses every request at once after a connection failure, until the probe succeeds', async () => {
    const { hooks, availability } = setUp();
    expect(() => hooks.before()).not.toThrow();
    hooks.failed('secrets.v1.get', new EventStoreError(EventStoreErrorCode.UNAVAILABLE, 'connection refused'));
    expect(() => hooks.before()).toThrow(expect.objectContaining({ code: SecretsErrorCode.UNAVAILABLE }));
    await availability.probe();
    expect(() => hooks.before()).not.toThrow();
  });

  it('counts and logs a withheld value by its place and reason only', async () => {
    const { hooks, registry, logged } = setUp();
    const details = { reason: 'DIGEST_MISMATCH', streamId: 'secret:acme:_:DB_URL', version: 2 };
    hooks.failed('secrets.v1.resolve', new SecretsError(SecretsErrorCode.INTEGRITY_VIOLATION, 'withheld', details));
    hooks.failed('secrets.v1.get', new SecretsError(SecretsErrorCode.NOT_FOUND, 'not found'));

    const metric = await registry.getSingleMetric('secrets_integrity_failures_total')!.get();
    expect(metric.values.map((v) => [v.labels.reason, v.value])).toEqual([['DIGEST_MISMATCH', 1]]);
    expect(logged).toEqual([
      {
        fields: { subject: 'secrets.v1.resolve', ...details },
        message: 'stored value failed its integrity check; withheld',
      },
    ]);
  });
});
