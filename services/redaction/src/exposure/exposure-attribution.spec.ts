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
});
