import fc from 'fast-check';
import { buildMatcher, MASK } from './index';
import { formsOfValue, isBelowMinLength } from './value-forms';

const BASE64_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_';

/** The slow, obviously correct redactor the matcher must agree with: every form of every value found with indexOf. */
function referenceRedact(
  input: Buffer,
  values: readonly string[],
  minLength: number,
): { output: Buffer; count: number } {
  const regions: [number, number][] = [];
  for (const value of new Set(values)) {
    if (isBelowMinLength(value, minLength)) continue;
    for (const form of formsOfValue(value, minLength)) {
      for (let at = input.indexOf(form.bytes); at !== -1; at = input.indexOf(form.bytes, at + 1)) {
        let start = at;
        let end = at + form.bytes.length;
        if (form.partialBefore && start > 0 && BASE64_CHARS.includes(String.fromCharCode(input[start - 1]))) start--;
        if (form.partialAfter && end < input.length && BASE64_CHARS.includes(String.fromCharCode(input[end]))) {
          end++;
          if (input[end] === 0x3d) end++;
          if (input[end] === 0x3d) end++;
        }
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
const denseChar = fc.constantFrom('a', 'b', 'c', '=', '+', '/', '"', '\\', '\n', ' ', '%', 'é', '🔑', '<', '-', '_');
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
        fc.tuple(fc.nat(), fc.nat()).map(([i, j]) => {
          const forms = formsOfValue(secrets[i % secrets.length], min);
          return forms.length === 0 ? Buffer.alloc(0) : Buffer.from(forms[j % forms.length].bytes);
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
              (form) => textBytes.indexOf(form.bytes) === -1 && Buffer.from(bytes).indexOf(form.bytes) === -1,
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
