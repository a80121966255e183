import { buildMatcher } from '@platform/redaction';
import { type AttributedValue, ExposureAttribution } from './exposure-attribution';

const values: AttributedValue[] = [
  { value: 'hunter2-correct-horse', key: 'DB_PASSWORD', version: 2, scope: 'vendor' },
  { value: 'old-hunter1-battery', key: 'DB_PASSWORD', version: 1, scope: 'vendor' },
  { value: 'sk_live_"quoted"_key', key: 'API_KEY', version: 1, scope: 'customer' },
  { value: 'line-one-secret\nline-two-secret', key: 'CERT', version: 3, scope: 'vendor' },
  { value: 'abc', key: 'SHORT', version: 1, scope: 'vendor' },
];

function attribute(text: string) {
  const matcher = buildMatcher(values.map((entry) => entry.value));
  const input = Buffer.from(text, 'utf8');
  const { spans } = matcher.redactBytes(input);
  return new ExposureAttribution(values, 4).attribute(input, spans);
}

describe('ExposureAttribution', () => {
  it('names the key, version and scope of each value a masked span showed, once each', () => {
    expect(attribute('connect password=hunter2-correct-horse retry hunter2-correct-horse')).toEqual([
      { key: 'DB_PASSWORD', version: 2, scope: 'vendor' },
    ]);
    expect(attribute('old=old-hunter1-battery new=hunter2-correct-horse')).toEqual([
      { key: 'DB_PASSWORD', version: 1, scope: 'vendor' },
      { key: 'DB_PASSWORD', version: 2, scope: 'vendor' },
    ]);
  });

  it('finds JSON-escaped values and single lines of multi-line values', () => {
    expect(attribute(JSON.stringify({ token: 'sk_live_"quoted"_key' }))).toEqual([
      { key: 'API_KEY', version: 1, scope: 'customer' },
    ]);
    expect(attribute('cert: line-two-secret')).toEqual([{ key: 'CERT', version: 3, scope: 'vendor' }]);
  });

  it('names nothing for a line without a masked value, or for values too short to be masked', () => {
    expect(attribute('nothing to see; abc abc')).toEqual([]);
  });

  it('names a value whose masked span is longer than the indexed spans, by scanning', () => {
    const long = { value: `-----BEGIN KEY-----${'Q'.repeat(600)}-----END KEY-----`, key: 'TLS_KEY', version: 4 };
    const all: AttributedValue[] = [...values, { ...long, scope: 'vendor' }];
    const input = Buffer.from(`key=${long.value}`, 'utf8');
    const { spans } = buildMatcher(all.map((entry) => entry.value)).redactBytes(input);
    expect(new ExposureAttribution(all, 4).attribute(input, spans)).toEqual([
      { key: 'TLS_KEY', version: 4, scope: 'vendor' },
    ]);
  });

  it('looks a span up only where that costs less than scanning it, so no tenant can make it quadratic', () => {
    const scope = 'vendor' as const;
    const line = (value: string) => {
      const input = Buffer.from(`x=${value}`, 'utf8');
      return { input, spans: [2, input.length] };
    };
    const ways = (all: AttributedValue[], value: string) => {
      const attribution = new ExposureAttribution(all, 4);
      const internals = attribution as unknown as Record<'lookUp' | 'scan', () => number[]>;
      const lookUp = jest.spyOn(internals, 'lookUp');
      const scan = jest.spyOn(internals, 'scan');
      const { input, spans } = line(value);
      const seen = attribution.attribute(input, spans);
      return { seen, lookUp: lookUp.mock.calls.length, scan: scan.mock.calls.length };
    };
    // Many values of one length: one hash per substring beats a search per value.
    const sameLength = Array.from({ length: 2000 }, (_, n) => ({
      value: `tok-${String(n).padStart(8, '0')}`,
      key: `K${n}`,
      version: 1,
      scope,
    }));
    expect(ways(sameLength, 'tok-00001234')).toMatchObject({ lookUp: 1, scan: 0, seen: [{ key: 'K1234' }] });
    // Values of every length up to the indexed limit: every substring of every length would be hashed.
    const everyLength = Array.from({ length: 500 }, (_, n) => ({
      value: 'v'.repeat(8 + n),
      key: `L${n}`,
      version: 1,
      scope,
    }));
    const longest = everyLength[everyLength.length - 1].value;
    expect(ways(everyLength, longest)).toMatchObject({ lookUp: 0, scan: 1 });
    expect(ways(everyLength, longest).seen).toHaveLength(500);
  });

  it('names exactly what testing every value against every span names, in the same order', () => {
    // A brute-force reference: every candidate's forms searched in every span, in candidate order.
    const reference = (all: readonly AttributedValue[], input: Buffer, spans: readonly number[]) => {
      const seen = new Map<string, { key: string; version: number; scope: string }>();
      for (let i = 0; i < spans.length; i += 2) {
        const region = input.subarray(spans[i], spans[i + 1]);
        for (const entry of all) {
          if (entry.value.trim().length < 4) continue;
          const forms = [entry.value, JSON.stringify(entry.value).slice(1, -1), encodeURIComponent(entry.value)];
          if (forms.some((form) => region.includes(Buffer.from(form)))) {
            seen.set(`${entry.scope}/${entry.key}/${entry.version}`, {
              key: entry.key,
              version: entry.version,
              scope: entry.scope,
            });
          }
        }
      }
      return [...seen.values()];
    };
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
    const word = (length: number) => Array.from({ length }, () => 'abcdxyz'[next() % 7]).join('');
    for (let round = 0; round < 50; round++) {
      const all: AttributedValue[] = Array.from({ length: 12 }, (_, n) => ({
        value: word(4 + (next() % 6)),
        key: `K${n % 5}`,
        version: 1 + (n % 3),
        scope: n % 2 === 0 ? 'vendor' : 'customer',
      }));
      const input = Buffer.from(Array.from({ length: 6 }, () => word(3 + (next() % 12))).join(' '), 'utf8');
      const { spans } = buildMatcher(
        all.map((entry) => entry.value),
        { minLength: 4 },
      ).redactBytes(input);
      expect(new ExposureAttribution(all, 4).attribute(input, spans)).toEqual(reference(all, input, spans));
    }
  });
});
