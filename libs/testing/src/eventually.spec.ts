import { eventually, eventuallyValue } from './eventually';

describe('eventually', () => {
  it('resolves once a sync or async check turns true', async () => {
    let probes = 0;
    await eventually('the third probe', () => ++probes === 3, { intervalMs: 1 });
    expect(probes).toBe(3);
    await eventually('an async check', async () => ++probes === 5, { intervalMs: 1 });
    expect(probes).toBe(5);
  });

  it('fails naming what it waited for after the timeout', async () => {
    await expect(eventually('the never-true check', () => false, { timeoutMs: 30, intervalMs: 5 })).rejects.toThrow(
      'timed out after 30 ms: the never-true check',
    );
  });

  it('returns the first accepted value and keeps values out of the error', async () => {
    let next = 0;
    expect(
      await eventuallyValue(
        'a value of 2',
        () => next++,
        (value) => value === 2,
        { intervalMs: 1 },
      ),
    ).toBe(2);
    const refused = eventuallyValue(
      'an accepted reply',
      () => 'secret-value',
      () => false,
      { timeoutMs: 10 },
    );
    await expect(refused).rejects.toThrow('timed out after 10 ms: an accepted reply');
    await expect(refused).rejects.not.toThrow(/secret-value/);
  });
});
