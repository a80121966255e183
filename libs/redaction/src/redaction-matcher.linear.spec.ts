import fc from 'fast-check';
import { buildMatcher, MASK } from './index';
import { ScanWork } from './scan-work';
import { referenceRedact } from './testing/reference-redact';
import { formsOfValue } from './value-forms';

/** Characters that make escapes, their hex letters in both cases, base64 and repeats likely. */
const unit = fc.constantFrom(
  ...['a', 'b', 'A', 'B', 'e', 'E', 'f', 'F', '0', '2', '9', 'u', '%', '\\', '/', '+', '=', '"', '-', ' ', '\n'],
  ...['é', 'ß', '🔑'],
);
const piece = fc.string({ unit, minLength: 1, maxLength: 5 });

/** Value sets that defeat sampling and verification: runs, periods, shared prefixes, suffix chains, overlaps. */
const adversarialValues = fc.oneof(
  fc.array(fc.string({ unit, minLength: 1, maxLength: 14 }), { minLength: 1, maxLength: 5 }),
  fc
    .tuple(piece, fc.integer({ min: 1, max: 40 }), fc.string({ unit, maxLength: 3 }))
    .map(([period, times, tail]) => [period.repeat(times) + tail]),
  fc
    .tuple(piece, fc.array(fc.string({ unit, maxLength: 6 }), { minLength: 1, maxLength: 6 }))
    .map(([prefix, tails]) => tails.map((tail) => prefix.repeat(3) + tail)),
  fc
    .string({ unit, minLength: 4, maxLength: 30 })
    .map((whole) => [...whole].map((_, i) => [...whole].slice(i).join(''))),
  fc
    .tuple(piece, piece, fc.integer({ min: 1, max: 6 }))
    .map(([a, b, times]) => [(a + b).repeat(times), (b + a).repeat(times), a + b + a]),
);

/** Flips the case of hex letters at random, everywhere: marked escape letters may change, nothing else should match. */
const flipHexCase = (text: string, flips: number) =>
  [...text]
    .map((c, i) => (/[a-fA-F]/.test(c) && (flips >>> (i % 31)) & 1 ? String.fromCharCode(c.charCodeAt(0) ^ 0x20) : c))
    .join('');

/** Logs of forms of the values (hex case flipped, repeated), escape starts that may run into them, and noise. */
const logOf = (values: readonly string[], minLength: number) =>
  fc
    .array(
      fc.oneof(
        fc.tuple(fc.nat(), fc.nat(), fc.nat(), fc.integer({ min: 1, max: 4 })).map(([v, f, flips, times]) => {
          const forms = formsOfValue(values[v % values.length], minLength);
          if (forms.length === 0) return '';
          return flipHexCase(Buffer.from(forms[f % forms.length].bytes).toString('latin1'), flips).repeat(times);
        }),
        fc.constantFrom('%', '%2', '\\u', '\\u0', '\\u00', '%u00e', '\\u00E'),
        fc.string({ unit, maxLength: 8 }).map((noise) => Buffer.from(noise, 'utf8').toString('latin1')),
        fc
          .tuple(piece, fc.integer({ min: 1, max: 30 }))
          .map(([p, times]) => Buffer.from(p.repeat(times), 'utf8').toString('latin1')),
      ),
      { maxLength: 12 },
    )
    .map((parts) => Buffer.from(parts.join(''), 'latin1'));

describe('redaction in linear time', () => {
  it('gives the naive search’s answer on adversarial values and logs, on the fast path and in the automaton tier', () => {
    fc.assert(
      fc.property(
        adversarialValues.chain((values) =>
          fc
            .integer({ min: 1, max: 6 })
            .chain((min) => fc.tuple(fc.constant(values), fc.constant(min), logOf(values, min))),
        ),
        ([values, minLength, input]) => {
          const matcher = buildMatcher(values, { minLength });
          const expected = referenceRedact(input, values, minLength);
          const forced = new ScanWork(0, -1);
          for (const work of [new ScanWork(), forced]) {
            const actual = matcher.redactBytes(input, work);
            expect(actual.count).toBe(expected.count);
            expect(Buffer.from(actual.output)).toEqual(expected.output);
          }
          expect(forced.usedAutomaton).toBe(matcher.stats.patterns > 0);
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('widens the end over a partial base64 character when a shorter match ending at the same byte does', () => {
    // 'hello' in base64 is aGVsbG8=: the core aGVsbG ends in a character mixing its bits with the next byte's.
    const matcher = buildMatcher(['hello', 'xx-aGVsbG']);
    for (const work of [new ScanWork(), new ScanWork(0, -1)]) {
      expect(matcher.redactText('[xx-aGVsbG8=]')).toEqual({ output: `[${MASK}]`, count: 1 });
      expect(Buffer.from(matcher.redactBytes(Buffer.from('[xx-aGVsbG8=]'), work).output).toString()).toBe(`[${MASK}]`);
    }
  });

  it('builds the automaton tier once, on the first input that needs it, and keeps it', () => {
    const matcher = buildMatcher([`${'a'.repeat(4096)}b`]);
    expect(matcher.automatonBytes).toBe(0);
    matcher.redactBytes(Buffer.alloc(64 * 1024, 'a'));
    const built = matcher.automatonBytes;
    expect(built).toBeGreaterThan(0);
    matcher.redactBytes(Buffer.alloc(64 * 1024, 'a'));
    expect(matcher.automatonBytes).toBe(built);
  });

  describe('a 16 KiB periodic value against long runs of its period', () => {
    const value = `${'a'.repeat(16 * 1024)}b`;
    const matcher = buildMatcher([value]);
    const workOn = (length: number) => {
      const work = new ScanWork();
      const input = Buffer.alloc(length, 'a');
      expect(matcher.redactBytes(input, work)).toEqual({ output: input, count: 0, spans: [] });
      return work;
    };

    it('does work proportional to the text, whatever the value’s length', () => {
      const small = workOn(256 * 1024);
      const large = workOn(512 * 1024);
      expect(small.usedAutomaton && large.usedAutomaton).toBe(true);
      expect(large.steps).toBeLessThanOrEqual(2.2 * small.steps);
      // Anchor budget, plus one verification, plus two automata at a few steps per byte.
      for (const [work, length] of [
        [small, 256 * 1024],
        [large, 512 * 1024],
      ] as const) {
        expect(work.steps).toBeLessThanOrEqual(16 * length + 4096 + value.length);
      }
    });

    it('still masks the value where it occurs', () => {
      const input = Buffer.from(`${'a'.repeat(40_000)}b ${value} x${'a'.repeat(20_000)}`);
      const work = new ScanWork();
      const output = Buffer.from(matcher.redactBytes(input, work).output).toString();
      expect(output === `${'a'.repeat(40_000 - value.length + 1)}${MASK} ${MASK} x${'a'.repeat(20_000)}`).toBe(true);
      expect(work.usedAutomaton).toBe(true);
    });
  });

  it('does work proportional to the text for values in a suffix chain, sharing a prefix or overlapping', () => {
    const run = 'ab'.repeat(1024);
    const sets = [
      Array.from({ length: 100 }, (_, i) => run.slice(i * 8)),
      Array.from({ length: 100 }, (_, i) => `${run}${i}`),
      Array.from({ length: 50 }, (_, i) => `${'ab'.repeat(i + 4)}a`),
      [`${'%c3%a9'.repeat(500)}x`, `${'é'.repeat(500)}`],
    ];
    for (const values of sets) {
      const matcher = buildMatcher(values);
      const steps = (length: number) => {
        const work = new ScanWork();
        matcher.redactBytes(Buffer.from('ab'.repeat(length / 2) + '%C3%A9'.repeat(length / 6)), work);
        return work.steps;
      };
      const small = steps(96 * 1024);
      const large = steps(192 * 1024);
      expect(large).toBeLessThanOrEqual(2.2 * small);
      expect(large).toBeLessThanOrEqual(16 * (2 * 192 * 1024) + 4096 + 2 * run.length);
    }
  });
});
