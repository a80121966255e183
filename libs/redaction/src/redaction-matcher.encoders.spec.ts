import fc from 'fast-check';
import { buildMatcher, MASK } from './index';

// Encoders written here from their documented behaviour, independently of value-forms.ts: the property test compares
// the matcher with a reference built from the same list of forms, so only a test like this one notices a missing form.

type Encoder = (text: string) => string;

const hex = (byte: number) => byte.toString(16).toUpperCase().padStart(2, '0');

/** Percent-encodes every UTF-8 byte except ASCII letters, digits and `safe`; `plus` writes spaces as `+`. */
const percentEncoder =
  (safe: string, plus = false): Encoder =>
  (text) =>
    [...Buffer.from(text, 'utf8')]
      .map((byte) => {
        const char = String.fromCharCode(byte);
        if (byte < 0x80 && (/[A-Za-z0-9]/.test(char) || safe.includes(char))) return char;
        return plus && byte === 0x20 ? '+' : `%${hex(byte)}`;
      })
      .join('');

const lowerHex =
  (encode: Encoder): Encoder =>
  (text) =>
    encode(text).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
const mixedHex =
  (encode: Encoder): Encoder =>
  (text) => {
    let n = 0;
    return encode(text).replace(/%[0-9A-F]{2}|\\u[0-9a-fA-F]{4}/g, (e) =>
      n++ % 2 ? e.toLowerCase() : e.toUpperCase(),
    );
  };

/** JSON.stringify's escapes, re-escaped token by token: `rewrite` decides how each character of the value is written. */
const jsonEncoder =
  (rewrite: (char: string, standard: string) => string): Encoder =>
  (text) =>
    JSON.stringify(text)
      .slice(1, -1)
      .replace(/\\u[0-9a-f]{4}|\\["\\/bfnrt]|[\s\S]/g, (token) => rewrite(JSON.parse(`"${token}"`) as string, token));

const unicodeEscape = (char: string, upper = false) => {
  const hexDigits = char.charCodeAt(0).toString(16).padStart(4, '0');
  return `\\u${upper ? hexDigits.toUpperCase() : hexDigits}`;
};
const isNonAscii = (char: string) => char.charCodeAt(0) > 0x7f;

const TEXT_ENCODERS: readonly [string, Encoder][] = [
  ['raw', (text) => text],
  ['encodeURIComponent', encodeURIComponent],
  ['encodeURIComponent, lower-case hex', lowerHex(encodeURIComponent)],
  ['encodeURIComponent, mixed-case hex', mixedHex(encodeURIComponent)],
  ['encodeURI', encodeURI],
  ['Python quote (safe="/")', percentEncoder('_.-~/')],
  ['Python quote (safe="")', percentEncoder('_.-~')],
  ['Python quote_plus', percentEncoder('_.-~', true)],
  ['URLSearchParams', (text) => new URLSearchParams({ v: text }).toString().slice(2)],
  ['PHP urlencode', percentEncoder('-_.', true)],
  ['JSON.stringify', (text) => JSON.stringify(text).slice(1, -1)],
  [
    'JSON, upper-case \\u hex',
    jsonEncoder((_c, token) => (token.startsWith('\\u') ? `\\u${token.slice(2).toUpperCase()}` : token)),
  ],
  ['Python json.dumps (ensure_ascii)', jsonEncoder((c, token) => (isNonAscii(c) ? unicodeEscape(c) : token))],
  ['Go encoding/json', jsonEncoder((c, token) => ('<>&\u2028\u2029'.includes(c) ? unicodeEscape(c) : token))],
  ['PHP json_encode', jsonEncoder((c, token) => (c === '/' ? '\\/' : isNonAscii(c) ? unicodeEscape(c) : token))],
  ['PHP json_encode, unescaped unicode', jsonEncoder((c, token) => (c === '/' ? '\\/' : token))],
  ['JSON, solidus as \\u002f', jsonEncoder((c, token) => (c === '/' ? '\\u002f' : token))],
  [
    '.NET System.Text.Json',
    jsonEncoder((c, token) => (`"+'<>&\``.includes(c) || c.charCodeAt(0) >= 0x7f ? unicodeEscape(c, true) : token)),
  ],
  ['JSON nested in JSON', (text) => JSON.stringify(JSON.stringify(text).slice(1, -1)).slice(1, -1)],
];

/** Ways a base64 blob travels: as it is, inside a URL, inside PHP's JSON. */
const BLOB_CARRIERS: readonly [string, Encoder][] = [
  ['plain', (blob) => blob],
  ['encodeURIComponent', encodeURIComponent],
  ['encodeURIComponent, lower-case hex', lowerHex(encodeURIComponent)],
  ['Python quote (safe="/")', percentEncoder('_.-~/')],
  ['PHP json_encode', (blob) => blob.replace(/\//g, '\\/')],
];

/** Values of any script, weighted towards the characters the encoders treat specially; '|' delimits them in logs. */
const special = fc.constantFrom(...' +/=?&%<>\'"`\\#:@~*!$,;é€\u2028\u0001\u001b\u007f\t\n'.split(''), '🔑', 'ß');
const secretValue = fc
  .array(fc.oneof(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 3 }), special), {
    minLength: 4,
    maxLength: 24,
  })
  .map((parts) => parts.join(''))
  .filter((value) => !value.includes('|') && [...value.trim()].length >= 4);

/** The value, the value trimmed and each trimmed line of it long enough to be matched on its own. */
const sourcesOf = (value: string) =>
  [...new Set([value, value.trim(), ...value.split(/\r\n|\r|\n/).map((line) => line.trim())])].filter(
    (source) => [...source.trim()].length >= 4,
  );

describe('values written by real encoders', () => {
  it.each(TEXT_ENCODERS)('masks every value, its trimmed form and its lines written by %s', (_name, encode) => {
    fc.assert(
      fc.property(secretValue, (value) => {
        const matcher = buildMatcher([value]);
        for (const source of sourcesOf(value)) {
          expect(matcher.redactText(`|${encode(source)}|`)).toEqual({ output: `|${MASK}|`, count: 1 });
        }
      }),
      { numRuns: 150 },
    );
  });

  it.each(BLOB_CARRIERS)(
    'masks every character carrying a bit of the value inside a larger base64 blob, carried %s',
    (_name, carry) => {
      fc.assert(
        fc.property(
          secretValue,
          fc.constantFrom<BufferEncoding>('base64', 'base64url'),
          fc.uint8Array({ maxLength: 5 }),
          fc.uint8Array({ maxLength: 4 }),
          (value, encoding, before, after) => {
            const matcher = buildMatcher([value]);
            for (const source of sourcesOf(value)) {
              const bytes = Buffer.from(source, 'utf8');
              const blob = Buffer.concat([before, bytes, after]).toString(encoding);
              // The characters holding at least one bit of the value, and where they sit once carried.
              const first = carry(blob.slice(0, Math.floor((8 * before.length) / 6))).length;
              const end = carry(blob.slice(0, Math.ceil((8 * (before.length + bytes.length)) / 6))).length;
              const carried = carry(blob);

              const { output } = matcher.redactText(`|${carried}|`);
              const mask = output.indexOf(MASK);
              expect(mask).toBeGreaterThan(0);
              const kept = [output.slice(1, mask), output.slice(mask + MASK.length, -1)];
              expect(carried.startsWith(kept[0]) && kept[0].length <= first).toBe(true);
              expect(carried.endsWith(kept[1]) && carried.length - kept[1].length >= end).toBe(true);
            }
          },
        ),
        { numRuns: 150 },
      );
    },
  );
});
