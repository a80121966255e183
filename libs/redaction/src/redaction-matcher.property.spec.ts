import fc from 'fast-check';
import { buildMatcher } from './index';
import { occurrences, referenceRedact } from './testing/reference-redact';
import { formsOfValue, isBelowMinLength } from './value-forms';

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
