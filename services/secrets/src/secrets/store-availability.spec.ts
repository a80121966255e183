import { EventStoreError, EventStoreErrorCode } from '@platform/event-store';
import { SecretsErrorCode } from './secrets.error';
import { StoreAvailability } from './store-availability';

describe('StoreAvailability', () => {
  it('closes on a connection failure and reopens when the probe succeeds', async () => {
    let healthy = true;
    const availability = new StoreAvailability(async () => healthy);
    expect(() => availability.assertAvailable()).not.toThrow();

    availability.observe(new Error('some other failure'));
    expect(availability.isAvailable).toBe(true);

    healthy = false;
    availability.observe(new EventStoreError(EventStoreErrorCode.UNAVAILABLE, 'down'));
    expect(() => availability.assertAvailable()).toThrow(
      expect.objectContaining({
        code: SecretsErrorCode.UNAVAILABLE,
        message: 'the secrets database is unavailable; retry later',
      }),
    );
    expect(await availability.probe()).toBe(false);
    expect(availability.isAvailable).toBe(false);

    healthy = true;
    expect(await availability.probe()).toBe(true);
    expect(() => availability.assertAvailable()).not.toThrow();
  });

  it('runs one probe at a time', async () => {
    let calls = 0;
    let release!: (ok: boolean) => void;
    const availability = new StoreAvailability(() => {
      calls++;
      return new Promise<boolean>((resolve) => (release = resolve));
    });
    const first = availability.probe();
    await availability.probe();
    expect(calls).toBe(1);
    release(true);
    expect(await first).toBe(true);
  });
});
