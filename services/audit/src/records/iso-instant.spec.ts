import { isoInstant } from './iso-instant';

describe('isoInstant', () => {
  it('formats exactly as toISOString across days, years and the edges of the range', () => {
    const instants = [
      0,
      -1,
      1,
      86_399_999,
      86_400_000,
      Date.UTC(2026, 11, 6, 4, 5, 6, 7),
      Date.UTC(2024, 1, 29, 23, 59, 59, 999),
      Date.UTC(1969, 11, 31, 23, 59, 59, 999),
      Date.UTC(9999, 11, 31, 23, 59, 59, 999),
      Date.UTC(10000, 0, 1),
      Date.UTC(-1, 5, 1, 12),
      8.64e15,
      -8.64e15,
    ];
    let seed = 7;
    for (let i = 0; i < 5_000; i++) {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      instants.push(Math.round((seed / 2 ** 31 - 0.5) * 2 * 4e12), Date.UTC(2026, 0, 1) + seed);
    }
    for (const ms of instants) expect(isoInstant(new Date(ms))).toBe(new Date(ms).toISOString());
  });

  it('formats consecutive instants of one day and then of another', () => {
    const day = Date.UTC(2026, 11, 6);
    for (const ms of [day + 1, day + 3_600_000, day - 1, day + 2, day + 86_400_000 + 5]) {
      expect(isoInstant(new Date(ms))).toBe(new Date(ms).toISOString());
    }
  });

  it('throws on an invalid date, as toISOString does', () => {
    expect(() => isoInstant(new Date(Number.NaN))).toThrow(RangeError);
  });
});
