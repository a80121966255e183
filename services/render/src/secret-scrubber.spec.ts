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
    const scrubber = new SecretScrubber(['abc', 'xxabcxx']);
    expect(scrubber.scrub('got xxabcxx and abc')).toBe(`got ${MASK} and ${MASK}`);
  });

  it('treats values as text, not patterns', () => {
    const scrubber = new SecretScrubber(['a.b*(c']);
    expect(scrubber.scrub('a.b*(c axb')).toBe(`${MASK} axb`);
  });

  it('scrubs string details and keeps positions', () => {
    const scrubber = new SecretScrubber(['s3cret']);
    expect(scrubber.scrubDetails({ line: 3, column: 7, field: 's3cret!' })).toEqual({
      line: 3,
      column: 7,
      field: `${MASK}!`,
    });
  });

  it('leaves text alone when nothing was resolved', () => {
    expect(new SecretScrubber([]).scrub('map has no entry for key "X"')).toBe('map has no entry for key "X"');
  });
});
