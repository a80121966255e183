import { type SecretScope } from '@platform/contracts';

/** A value of a scope with what it is: key, version and whose key (the vendor's or the customer's own). */
export interface AttributedValue {
  readonly value: string;
  readonly key: string;
  readonly version: number;
  readonly scope: SecretScope;
}

/** Which secret version a masked region showed; never the value. */
export interface SeenReference {
  readonly key: string;
  readonly version: number;
  readonly scope: SecretScope;
}

/** Masked spans of one message looked at, at most: a line printing a secret hundreds of times costs no more. */
const MAX_SPANS = 64;

interface Candidate {
  readonly reference: SeenReference;
  /** The forms looked for inside a masked span: raw, JSON-escaped, URL-encoded, and each long enough line. */
  readonly needles: readonly Buffer[];
}

function needlesOf(value: string, minLength: number): Buffer[] {
  const forms = new Set<string>([value, JSON.stringify(value).slice(1, -1), encodeURIComponent(value)]);
  if (value.includes('\n')) {
    for (const line of value.split(/\r?\n/)) if (line.trim().length >= minLength) forms.add(line.trim());
  }
  return [...forms].map((form) => Buffer.from(form, 'utf8'));
}

/**
 * Tells which secret versions the regions a matcher masked were (ARCHITECTURE.md §8, "Exposure"): a value belongs to a
 * span when one of its forms lies inside it. Only masked spans are searched, never the whole line, so the cost is
 * bounded by what was masked; a span in a form not looked for here (base64) is masked but not attributed.
 */
export class ExposureAttribution {
  private readonly candidates: readonly Candidate[];

  constructor(values: readonly AttributedValue[], minLength: number) {
    this.candidates = values
      .filter((entry) => entry.value.trim().length >= minLength)
      .map((entry) => ({
        reference: { key: entry.key, version: entry.version, scope: entry.scope },
        needles: needlesOf(entry.value, minLength),
      }));
  }

  /** The distinct references whose value one of `spans` (flattened `[start, end)` pairs of `input`) showed. */
  attribute(input: Uint8Array, spans: readonly number[]): SeenReference[] {
    const seen = new Map<string, SeenReference>();
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    for (let i = 0; i < Math.min(spans.length, MAX_SPANS * 2); i += 2) {
      const region = bytes.subarray(spans[i], spans[i + 1]);
      for (const { reference, needles } of this.candidates) {
        if (!needles.some((needle) => needle.length <= region.length && region.includes(needle))) continue;
        seen.set(`${reference.scope}/${reference.key}/${reference.version}`, reference);
      }
    }
    return [...seen.values()];
  }
}
