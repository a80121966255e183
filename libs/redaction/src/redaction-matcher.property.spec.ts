import fc from 'fast-check';
import { buildMatcher, MASK } from './index';
import { formsOfValue, isBelowMinLength, ValueForm } from './value-forms';

/** A base64 character as it may be written around a match: plain, percent-encoded or PHP-escaped. */
const PARTIAL_CHAR_BEFORE = /(%2[bBfF]|\\\/|[A-Za-z0-9+/_-])$/;
const PARTIAL_CHAR_AND_PADDING_AFTER = /^(%2[bBfF]|\\\/|[A-Za-z0-9+/_-])(=|%3[dD]){0,2}/;

/** Offsets in `input` where `form` occurs, its escape hex letters matching in either case. */
function occurrences(input: Buffer, form: ValueForm): number[] {
  const letters = new Set(form.hexLetters);
  const found: number[] = [];
  for (let at = 0; at + form.bytes.length <= input.length; at++) {
    const matches = form.bytes.every(
      (byte, i) => input[at + i] === byte || (letters.has(i) && input[at + i] === byte - 0x20),
    );
    if (matches) found.push(at);
  }
  return found;
}

/** The slow, obviously correct redactor the matcher must agree with: every form of every value found by brute force. */
function referenceRedact(
  input: Buffer,
  values: readonly string[],
  minLength: number,
): { output: Buffer; count: number } {
  const text = input.toString('latin1');
  const regions: [number, number][] = [];
  for (const value of new Set(values)) {
    if (isBelowMinLength(value, minLength)) continue;
    for (const form of formsOfValue(value, minLength)) {
      for (const at of occurrences(input, form)) {
        let start = at;
        let end = at + form.bytes.length;
        if (form.partialBefore)
          start -= PARTIAL_CHAR_BEFORE.exec(text.slice(Math.max(0, start - 3), start))?.[0].length ?? 0;
        if (form.partialAfter) end += PARTIAL_CHAR_AND_PADDING_AFTER.exec(text.slice(end))?.[0].length ?? 0;
        regions.push([start, end]);
      }
    }
  }
  regions.sort((a, b) => a[0] - b[0]);
  const parts: Buffer[] = [];
  let read = 0;
  let count = 0;
  for (let i = 0; i < regions.length;) {
    const start = regions[i][0];
    let end = regions[i][1];
    for (i++; i < regions.length && regions[i][0] <= end; i++) end = Math.max(end, regions[i][1]);
    parts.push(input.subarray(read, start), Buffer.from(MASK));
    read = end;
    count++;
  }
  parts.push(input.subarray(read));
  return { output: Buffer.concat(parts), count };
}

/** Small alphabets make overlaps, near misses and repeated matches common. */
const denseChar = fc.constantFrom(
  ...['a', 'b', 'c', 'B', '2', 'u', '=', '+', '/', '"', '\\', '\n', ' ', '%', 'é', '🔑', '<', '-', '_'],
);
const value = fc.oneof(
  fc.string({ unit: 'binary', minLength: 1, maxLength: 24 }),
  fc.string({ unit: denseChar, minLength: 1, maxLength: 12 }),
);
const values = fc.array(value, { minLength: 1, maxLength: 6 });
const minLength = fc.integer({ min: 1, max: 6 });

/** Log bytes made of noise, raw values and other forms of values (base64, JSON, URL, …), in any order. */
const logOf = (secrets: readonly string[], min: number) =>
  fc
    .array(
      fc.oneof(
        fc.string({ unit: 'binary', maxLength: 20 }).map((text) => Buffer.from(text, 'utf8')),
        fc.string({ unit: denseChar, maxLength: 8 }).map((text) => Buffer.from(text, 'utf8')),
        fc.uint8Array({ maxLength: 12 }).map((bytes) => Buffer.from(bytes)),
        fc.nat().map((i) => Buffer.from(secrets[i % secrets.length], 'utf8')),
        fc.tuple(fc.nat(), fc.nat(), fc.nat()).map(([i, j, upperCase]) => {
          const forms = formsOfValue(secrets[i % secrets.length], min);
          if (forms.length === 0) return Buffer.alloc(0);
          const form = forms[j % forms.length];
          // Escape hex in lower, upper or mixed case, as different encoders write it.
          const bytes = Buffer.from(form.bytes);
          form.hexLetters.forEach((at, k) => {
            if ((upperCase >>> (k % 30)) & 1) bytes[at] -= 0x20;
          });
          return bytes;
        }),
      ),
      { maxLength: 14 },
    )
    .map((parts) => Buffer.concat(parts));

describe('redaction matcher properties', () => {
  it('agrees byte for byte with a naive search over every form of every value', () => {
    fc.assert(
      fc.property(
        values.chain((secrets) =>
          minLength.chain((min) => fc.tuple(fc.constant(secrets), fc.constant(min), logOf(secrets, min))),
        ),
        ([secrets, min, input]) => {
          const actual = buildMatcher(secrets, { minLength: min }).redactBytes(input);
          const expected = referenceRedact(input, secrets, min);
          expect(actual.count).toBe(expected.count);
          expect(Buffer.from(actual.output)).toEqual(expected.output);
        },
      ),
      { numRuns: 500 },
    );
  });

  it('leaves no value’s raw form in the output', () => {
    // A value containing '*' could be spelled anew by a mask and its neighbours, so those are left out.
    const starless = values
      .map((secrets) => secrets.filter((secret) => !secret.includes('*')))
      .filter((s) => s.length > 0);
    fc.assert(
      fc.property(
        starless.chain((secrets) => fc.tuple(fc.constant(secrets), logOf(secrets, 4))),
        ([secrets, input]) => {
          const matcher = buildMatcher(secrets);
          const bytes = matcher.redactBytes(input).output;
          const text = matcher.redactText(input.toString('utf8')).output;
          for (const secret of secrets.filter((s) => !isBelowMinLength(s, 4))) {
            expect(Buffer.from(bytes).indexOf(Buffer.from(secret, 'utf8'))).toBe(-1);
            expect(text.includes(secret)).toBe(false);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('returns text and bytes without any value unchanged, with a count of 0', () => {
    fc.assert(
      fc.property(
        values,
        fc.string({ unit: 'binary', maxLength: 200 }),
        fc.uint8Array({ maxLength: 200 }),
        (secrets, text, bytes) => {
          const forms = secrets.filter((s) => !isBelowMinLength(s, 4)).flatMap((s) => formsOfValue(s, 4));
          const textBytes = Buffer.from(text, 'utf8');
          fc.pre(
            forms.every(
              (form) => occurrences(textBytes, form).length === 0 && occurrences(Buffer.from(bytes), form).length === 0,
            ),
          );
          const matcher = buildMatcher(secrets);
          expect(matcher.redactText(text)).toEqual({ output: text, count: 0 });
          const redacted = matcher.redactBytes(bytes);
          expect(redacted.output).toBe(bytes);
          expect(redacted.count).toBe(0);
        },
      ),
      { numRuns: 300 },
    );
  });
});
