import { MASK, SecretScrubber } from './secret-scrubber';

describe('SecretScrubber', () => {
  it('masks every value in the forms Go and env escaping print it', () => {
    const scrubber = new SecretScrubber(['hunter2', 'line one\nline two', 'quote"d']);
    expect(scrubber.scrub("range can't iterate over hunter2")).toBe(`range can't iterate over ${MASK}`);
    expect(scrubber.scrub('%!d(string=line one\nline two)')).toBe(`%!d(string=${MASK})`);
    expect(scrubber.scrub('value line one\\nline two here')).toBe(`value ${MASK} here`);
    expect(scrubber.scrub('a "quote\\"d" b')).toBe(`a "${MASK}" b`);
    expect(scrubber.scrub('only line two leaked')).toBe(`only ${MASK} leaked`);
  });

  it('masks a value containing another as one value', () => {
    const scrubber = new SecretScrubber(['abcd', 'xxabcdxx']);
    expect(scrubber.scrub('got xxabcdxx and abcd')).toBe(`got ${MASK} and ${MASK}`);
  });

  it('treats values as text, not patterns', () => {
    const scrubber = new SecretScrubber(['a.b*(c']);
    expect(scrubber.scrub('a.b*(c axb')).toBe(`${MASK} axb`);
  });

  it('leaves values shorter than 4 characters alone: they would garble ordinary words', () => {
    const scrubber = new SecretScrubber(['e', '1', 'ap', 'ent', 'line\nab']);
    expect(scrubber.scrub('map has no entry for key "SECRET_NAME" at 1')).toBe(
      'map has no entry for key "SECRET_NAME" at 1',
    );
    expect(scrubber.scrub('line\nab')).toBe(MASK);
  });

  it('leaves text alone when nothing was resolved', () => {
    expect(new SecretScrubber([]).scrub('map has no entry for key "X"')).toBe('map has no entry for key "X"');
  });
});
