import { buildMatcher, MASK, RedactionError, RedactionErrorCode } from './index';

const redact = (values: readonly string[], text: string, minLength?: number) =>
  buildMatcher(values, { minLength }).redactText(text);

/** xorshift32, so the generated cases are the same on every run. */
function seeded(seed: number): () => number {
  let state = seed;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
}

function randomText(
  next: () => number,
  length: number,
  alphabet = 'ABCDEFGHJKLMNPQRSTUVWXYZabcdefghjkmnpqrstuvwz23456789',
): string {
  return Array.from({ length }, () => alphabet[Math.floor(next() * alphabet.length)]).join('');
}

describe('raw values', () => {
  const value = 'hunter2-correct-horse';

  it.each([
    ['at the start', `${value} was set`, `${MASK} was set`],
    ['in the middle', `password=${value} user=admin`, `password=${MASK} user=admin`],
    ['at the end', `password=${value}`, `password=${MASK}`],
    ['as the whole message', value, MASK],
  ])('masks a value %s', (_where, text, expected) => {
    expect(redact([value], text)).toEqual({ output: expected, count: 1 });
  });

  it('masks every occurrence and counts each masked region', () => {
    expect(redact([value, 'swordfish'], `a=${value} b=swordfish c=${value}`)).toEqual({
      output: `a=${MASK} b=${MASK} c=${MASK}`,
      count: 3,
    });
  });

  it('returns text without a value as it came, with a count of 0', () => {
    const text = 'GET /health 200 in 3ms — nothing secret here';
    expect(redact([value], text)).toEqual({ output: text, count: 0 });
  });

  it('finds values of every length at every offset, whatever the other values’ lengths', () => {
    const next = seeded(7);
    const values = Array.from({ length: 37 }, (_, i) => randomText(next, 4 + i));
    const matcher = buildMatcher(values);
    for (const value of values) {
      for (let offset = 0; offset <= 17; offset++) {
        for (const tail of ['', '.', ' trailing']) {
          const text = `${'.'.repeat(offset)}${value}${tail}`;
          expect(matcher.redactText(text)).toEqual({ output: `${'.'.repeat(offset)}${MASK}${tail}`, count: 1 });
        }
      }
    }
  });

  it('tells values that share a long prefix apart, and leaves an unknown one alone', () => {
    const next = seeded(11);
    const values = Array.from({ length: 2000 }, () => `sk_live_${randomText(next, 24)}`);
    const matcher = buildMatcher(values);
    for (const value of values.slice(0, 200)) {
      expect(matcher.redactText(`key ${value} ok`)).toEqual({ output: `key ${MASK} ok`, count: 1 });
    }
    const unknown = `sk_live_${randomText(next, 24)}`;
    expect(matcher.redactText(`key ${unknown} ok`)).toEqual({ output: `key ${unknown} ok`, count: 0 });
  });
});

describe('overlapping and adjacent matches', () => {
  it('merges overlapping matches into one mask', () => {
    expect(redact(['abcdefgh', 'efghijkl'], 'x abcdefghijkl y')).toEqual({ output: `x ${MASK} y`, count: 1 });
  });

  it('merges a value found inside another into one mask', () => {
    expect(redact(['outer-secret-value', 'secret'], 'x outer-secret-value y')).toEqual({
      output: `x ${MASK} y`,
      count: 1,
    });
  });

  it('merges adjacent matches into one mask', () => {
    expect(redact(['abcd1234', 'wxyz9876'], 'x abcd1234wxyz9876 y')).toEqual({ output: `x ${MASK} y`, count: 1 });
  });

  it('merges a value repeated back to back, and a self-overlapping one', () => {
    expect(redact(['token'], 'tokentokentoken')).toEqual({ output: MASK, count: 1 });
    expect(redact(['abab'], 'xabababx')).toEqual({ output: `x${MASK}x`, count: 1 });
  });

  it('keeps matches one byte apart as two masks', () => {
    expect(redact(['abcd1234', 'wxyz9876'], 'abcd1234-wxyz9876')).toEqual({ output: `${MASK}-${MASK}`, count: 2 });
  });
});

describe('multi-line values', () => {
  const key = [
    '-----BEGIN PRIVATE KEY-----',
    'MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7',
    'VJTUt9Us8cKjMzEfYyjiWA4R4/M2bS1GB4t7NXp98C3SC6dVMvDu',
    'ab',
    '-----END PRIVATE KEY-----',
  ].join('\n');

  it('masks the whole value as one region', () => {
    expect(redact([key], `key:\n${key}\ndone`)).toEqual({ output: `key:\n${MASK}\ndone`, count: 1 });
  });

  it('masks each line logged on its own, trimmed of its indentation', () => {
    const logged = '  MIIEvQIBADANBgkqhkiG9w0BAQEFAASCBKcwggSjAgEAAoIBAQC7  \n';
    expect(redact([key], logged)).toEqual({ output: `  ${MASK}  \n`, count: 1 });
  });

  it('does not match a line shorter than minLength on its own', () => {
    expect(redact([key], 'ab cd ab')).toEqual({ output: 'ab cd ab', count: 0 });
  });

  it('masks each line of a CRLF value logged with LF line ends', () => {
    const value = 'first-line-of-it\r\nsecond-line-of-it';
    expect(redact([value], 'first-line-of-it\nsecond-line-of-it')).toEqual({ output: `${MASK}\n${MASK}`, count: 2 });
  });

  it('masks the env-escaped form, with newlines written as \\n', () => {
    const value = 'first-line\nsecond-line';
    expect(redact([value], 'VALUE=first-line\\nsecond-line;')).toEqual({ output: `VALUE=${MASK};`, count: 1 });
  });

  it('masks the JSON-escaped form', () => {
    expect(redact([key], JSON.stringify({ key }))).toEqual({ output: `{"key":"${MASK}"}`, count: 1 });
  });
});

describe('UTF-8 values', () => {
  const value = 'pässwörd-ünïcödé';

  it('masks the value’s UTF-8 bytes in text and in bytes', () => {
    expect(redact([value], `pw=${value}!`)).toEqual({ output: `pw=${MASK}!`, count: 1 });
    const result = buildMatcher([value]).redactBytes(Buffer.from(`pw=${value}!`, 'utf8'));
    expect(Buffer.from(result.output).toString('utf8')).toBe(`pw=${MASK}!`);
  });

  it('masks values in other scripts and astral code points', () => {
    const secret = '秘密の合言葉🔑';
    expect(redact([secret], `token: ${secret} ✓`)).toEqual({ output: `token: ${MASK} ✓`, count: 1 });
  });

  it('counts minLength in code points, not bytes or UTF-16 units', () => {
    expect(redact(['日本語'], 'x日本語x')).toEqual({ output: 'x日本語x', count: 0 });
    expect(redact(['日本語字'], 'x日本語字x')).toEqual({ output: `x${MASK}x`, count: 1 });
    expect(redact(['🔑🔑🔑'], 'x🔑🔑🔑x')).toEqual({ output: 'x🔑🔑🔑x', count: 0 });
  });

  it.each([
    ['lower-case \\u escapes (Python ensure_ascii)', 'lower'],
    ['upper-case \\u escapes (Jackson ESCAPE_NON_ASCII)', 'upper'],
  ] as const)('masks the ASCII-only JSON form with %s', (_name, hexCase) => {
    const secret = 'clé-secrète-🔑';
    const escaped = JSON.stringify({ secret }).replace(/[\u0080-\uffff]/g, (unit) => {
      const hex = unit.charCodeAt(0).toString(16).padStart(4, '0');
      return `\\u${hexCase === 'lower' ? hex : hex.toUpperCase()}`;
    });
    expect(escaped).toContain('\\u');
    expect(redact([secret], escaped)).toEqual({ output: `{"secret":"${MASK}"}`, count: 1 });
  });
});

describe('JSON string escaping', () => {
  it.each([
    ['quotes and backslashes', 'pa"ss\\word-1'],
    ['tabs and control characters', 'tab\there\u0001-secret'],
    ['a newline', 'line-one\nline-two'],
  ])('masks a value with %s inside a JSON string', (_name, value) => {
    expect(redact([value], JSON.stringify({ password: value }))).toEqual({
      output: `{"password":"${MASK}"}`,
      count: 1,
    });
  });

  it('masks Go’s HTML-safe escaping of <, > and &', () => {
    expect(redact(['a<b>&c-secret'], '{"password":"a\\u003cb\\u003e\\u0026c-secret"}')).toEqual({
      output: `{"password":"${MASK}"}`,
      count: 1,
    });
  });

  it('masks PHP’s escaped slashes', () => {
    expect(redact(['path/to/secret'], '{"p":"path\\/to\\/secret"}')).toEqual({ output: `{"p":"${MASK}"}`, count: 1 });
  });

  it('masks a value inside a JSON document carried as a JSON string', () => {
    const value = 'say "hi" \\ secret';
    const nested = JSON.stringify({ body: JSON.stringify({ password: value }) });
    expect(redact([value], nested)).toEqual({ output: `{"body":"{\\"password\\":\\"${MASK}\\"}"}`, count: 1 });
  });
});

describe('URL percent-encoding', () => {
  const value = "p@ss word/+&=?~!*'é";
  const lowerHex = (encoded: string) => encoded.replace(/%[0-9A-F]{2}/g, (escape) => escape.toLowerCase());
  const goQueryEscape = (text: string) =>
    [...Buffer.from(text, 'utf8')]
      .map((byte) => {
        const char = String.fromCharCode(byte);
        if (/[A-Za-z0-9\-_.~]/.test(char)) return char;
        return byte === 0x20 ? '+' : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
      })
      .join('');

  it.each([
    ['encodeURIComponent (%20)', encodeURIComponent(value)],
    ['form encoding (+ for spaces)', new URLSearchParams({ v: value }).toString().slice(2)],
    ['lower-case hex', lowerHex(encodeURIComponent(value))],
    ['Go url.QueryEscape', goQueryEscape(value)],
  ])('masks the %s form', (_name, encoded) => {
    expect(encoded).not.toBe(value);
    expect(redact([value], `GET /login?password=${encoded}&next=/`)).toEqual({
      output: `GET /login?password=${MASK}&next=/`,
      count: 1,
    });
  });
});

describe('base64', () => {
  // '>' and '?' encode to '+' and '/' in the standard alphabet, so both alphabets differ on this value.
  const value = 'token>>>???-secret';
  const cases: [BufferEncoding, boolean, number, number][] = [];
  for (const encoding of ['base64', 'base64url'] as const) {
    for (const padded of [true, false]) {
      for (let before = 0; before <= 5; before++) {
        for (let after = 0; after <= 4; after++) cases.push([encoding, padded, before, after]);
      }
    }
  }

  it.each(cases)(
    'masks the value in %s (padded: %s) with %i bytes before it and %i after it',
    (encoding, padded, before, after) => {
      const bytes = Buffer.concat([Buffer.alloc(before, 0xfb), Buffer.from(value), Buffer.alloc(after, 0xff)]);
      let blob = bytes.toString(encoding);
      if (encoding === 'base64' && !padded) blob = blob.replace(/=+$/, '');
      if (encoding === 'base64url' && padded) blob = bytes.toString('base64').replace(/\+/g, '-').replace(/\//g, '_');
      // Every character holding at least one bit of the value is masked, and the padding that ends it.
      const first = Math.floor((8 * before) / 6);
      const end = after === 0 ? blob.length : Math.ceil((8 * (before + value.length)) / 6);
      expect(redact([value], `data ${blob} end`)).toEqual({
        output: `data ${blob.slice(0, first)}${MASK}${blob.slice(end)} end`,
        count: 1,
      });
    },
  );

  it('masks a password inside a Basic authorization header', () => {
    const header = `Authorization: Basic ${Buffer.from('admin:correct-horse-battery').toString('base64')}`;
    expect(redact(['correct-horse-battery'], header)).toEqual({
      output: `Authorization: Basic YWRtaW46${MASK}`,
      count: 1,
    });
  });
});

describe('encodings a review found unmasked', () => {
  const base64 = (text: string) => Buffer.from(text).toString('base64');
  it.each([
    ['Python quote, which leaves "/"', 'abc+def/ghi==xyz', 'abc%2Bdef/ghi%3D%3Dxyz'],
    ['encodeURI', 'p@ss word/+&=?#x', encodeURI('p@ss word/+&=?#x')],
    ['.NET System.Text.Json, "+" upper-case hex', 'abc+def+ghijk', 'abc\\u002Bdef\\u002Bghijk'],
    ['.NET System.Text.Json, "<"', 'a<b-secret', 'a\\u003Cb-secret'],
    ['PHP json_encode', 'pässwörd/secret', 'p\\u00e4ssw\\u00f6rd\\/secret'],
    ['an upper-case control character escape', 'ctl\u001bsecret', 'ctl\\u001Bsecret'],
    ['mixed-case percent hex', 'a/b/c/d-secret', 'a%2fb%2Fc%2fd-secret'],
    ['a JSON-escaped solidus', 'a/b/c/d-secret', 'a\\u002fb\\u002Fc\\u002fd-secret'],
    ['the trimmed value percent-encoded', '  my secret  ', 'my%20secret'],
    ['the trimmed value in base64', '  mysecretvalue  ', base64('mysecretvalue')],
    ['a line of a multi-line value percent-encoded', 'line one secret\nline two secret', 'line%20two%20secret'],
    ['a line of a multi-line value in base64', 'line-one-secret\nline-two-secret', base64('line-two-secret')],
    ['JavaScript escape()', 'clé secrète', escape('clé secrète')],
  ])('masks %s', (_name, value, log) => {
    const { output, count } = redact([value], `<${log}>`);
    expect({ output, count }).toEqual({ output: `<${MASK}>`, count: 1 });
  });

  it.each([0, 1, 2])('masks base64 of a value without its trailing newline, %i bytes into the blob', (lead) => {
    const value = 'correct-horse-battery-staple\n';
    const blob = base64(`${'u:x'.slice(0, lead)}${value.trim()}!!`);
    const first = Math.floor((8 * lead) / 6);
    const end = Math.ceil((8 * (lead + value.trim().length)) / 6);
    expect(redact([value], blob)).toEqual({ output: `${blob.slice(0, first)}${MASK}${blob.slice(end)}`, count: 1 });
  });

  it('masks a base64 value carried in a URL, its percent-encoded partial characters and padding included', () => {
    const value = 'token>>>???-secret';
    expect(redact([value], `q=${encodeURIComponent(base64(value))}&n=1`)).toEqual({
      output: `q=${MASK}&n=1`,
      count: 1,
    });
    // The last character holding the value's bits is a percent-encoded '/', then '%3D' padding, each masked.
    const partial = 'my-secret-val?';
    const withTail = encodeURIComponent(
      Buffer.concat([Buffer.from(partial), Buffer.from([0xfc, 0x10])]).toString('base64'),
    );
    expect(withTail).toBe('bXktc2VjcmV0LXZhbD%2F8EA%3D%3D');
    expect(redact([partial], `q=${withTail}&n=1`)).toEqual({ output: `q=${MASK}8EA%3D%3D&n=1`, count: 1 });
    expect(redact([partial], `q=${encodeURIComponent(base64(partial))}&n=1`)).toEqual({
      output: `q=${MASK}&n=1`,
      count: 1,
    });
  });

  it('masks a base64 value inside PHP’s JSON, with its slashes escaped', () => {
    expect(redact(['token>>>???-secret'], '{"b":"dG9rZW4+Pj4\\/Pz8tc2VjcmV0"}')).toEqual({
      output: `{"b":"${MASK}"}`,
      count: 1,
    });
  });
});

describe('binary payloads', () => {
  const value = 'binary-secret-42';

  it('masks a value between arbitrary bytes and leaves every other byte as it was', () => {
    const next = seeded(3);
    const before = Uint8Array.from({ length: 300 }, () => Math.floor(next() * 256));
    const after = Uint8Array.from([0xff, 0xfe, 0x00, 0xc3, 0x28, 0x80]);
    const input = Buffer.concat([before, Buffer.from(value), after]);
    const { output, count } = buildMatcher([value]).redactBytes(input);
    expect(count).toBe(1);
    expect(Buffer.from(output)).toEqual(Buffer.concat([before, Buffer.from(MASK), after]));
  });

  it('returns the same array when nothing matched', () => {
    const input = Uint8Array.from([0, 1, 2, 0xff, 0xc3, 0x28]);
    const result = buildMatcher([value]).redactBytes(input);
    expect(result.output).toBe(input);
    expect(result.count).toBe(0);
  });

  it('does not write outside a subarray view', () => {
    const backing = Buffer.from(`HEAD${value}TAIL`);
    const view = backing.subarray(4, 4 + value.length);
    expect(Buffer.from(buildMatcher([value]).redactBytes(view).output).toString()).toBe(MASK);
    expect(backing.toString()).toBe(`HEAD${value}TAIL`);
  });
});

describe('empty messages and empty matchers', () => {
  it('passes an empty message through', () => {
    const matcher = buildMatcher(['some-secret']);
    expect(matcher.redactText('')).toEqual({ output: '', count: 0 });
    expect(matcher.redactBytes(new Uint8Array(0)).output).toHaveLength(0);
  });

  it('passes everything through when there are no values', () => {
    const matcher = buildMatcher([]);
    expect(matcher.redactText('password=anything')).toEqual({ output: 'password=anything', count: 0 });
    expect(matcher.stats).toEqual({ values: 0, valuesBelowMinLength: 0, patterns: 0, indexBytes: expect.any(Number) });
  });
});

describe('minLength', () => {
  it('skips values shorter than the default of 4 and counts them', () => {
    const matcher = buildMatcher(['abc', 'xy', 'abcd']);
    expect(matcher.redactText('abc xy abcd')).toEqual({ output: `abc xy ${MASK}`, count: 1 });
    expect(matcher.stats).toMatchObject({ values: 1, valuesBelowMinLength: 2 });
  });

  it('follows a custom minLength', () => {
    const matcher = buildMatcher(['seven77', 'eight888'], { minLength: 8 });
    expect(matcher.redactText('seven77 eight888')).toEqual({ output: `seven77 ${MASK}`, count: 1 });
    expect(matcher.stats).toMatchObject({ values: 1, valuesBelowMinLength: 1 });
  });

  it('matches single characters when minLength is 1', () => {
    expect(redact(['x'], 'x-x', 1)).toEqual({ output: `${MASK}-${MASK}`, count: 2 });
  });

  it('does not count surrounding whitespace, and matches the value with or without it', () => {
    const matcher = buildMatcher(['  ab  ', ' abcd ']);
    expect(matcher.stats).toMatchObject({ values: 1, valuesBelowMinLength: 1 });
    expect(matcher.redactText('k=abcd; j=  ab  ')).toEqual({ output: `k=${MASK}; j=  ab  `, count: 1 });
  });

  it.each([0, -1, 2.5, NaN])('refuses minLength %p', (minLength) => {
    const build = () => buildMatcher(['some-secret'], { minLength });
    expect(build).toThrow(RedactionError);
    expect(build).toThrow('minLength must be a positive integer');
    expect(catchError(build).code).toBe(RedactionErrorCode.INVALID_MIN_LENGTH);
  });
});

describe('building', () => {
  it('refuses a value that is not a string, naming its index and no value', () => {
    const build = () => buildMatcher(['top-secret-1', 42 as unknown as string]);
    const error = catchError(build);
    expect(error.code).toBe(RedactionErrorCode.INVALID_VALUE);
    expect(error.message).toBe('value at index 1 is not a string');
  });

  it('counts a repeated value once and reports its patterns and index size', () => {
    const matcher = buildMatcher(['repeat-me-secret', 'repeat-me-secret', 'another-one']);
    expect(matcher.stats.values).toBe(2);
    expect(matcher.stats.patterns).toBeGreaterThan(2);
    expect(matcher.stats.indexBytes).toBeGreaterThan(0);
  });
});

function catchError(fn: () => unknown): RedactionError {
  try {
    fn();
  } catch (error) {
    if (error instanceof RedactionError) return error;
    throw error;
  }
  throw new Error('expected a RedactionError');
}

describe('masked spans', () => {
  it('names each masked region of the input by byte offsets, merged as masked', () => {
    const matcher = buildMatcher(['hunter2-correct-horse', 'swordfish-1234']);
    const input = Buffer.from('a=hunter2-correct-horse b=swordfish-1234swordfish-1234 c', 'utf8');
    const { count, spans } = matcher.redactBytes(input);
    expect(count).toBe(2);
    expect(spans).toHaveLength(4);
    const texts = [0, 2].map((i) => input.subarray(spans[i], spans[i + 1]).toString('utf8'));
    expect(texts[0]).toContain('hunter2-correct-horse');
    expect(texts[1]).toContain('swordfish-1234swordfish-1234');
    expect(matcher.redactBytes(Buffer.from('nothing here')).spans).toEqual([]);
  });
});
