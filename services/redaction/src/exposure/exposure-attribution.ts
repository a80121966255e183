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

/** Spans up to this long may be looked up by their substrings; a longer one (a long certificate) is scanned. */
const MAX_INDEXED_SPAN = 512;

/**
 * Tells which secret versions the regions a matcher masked were (ARCHITECTURE.md §8, "Exposure"): a value belongs to a
 * span when one of its forms lies inside it. Only masked spans are searched, never the whole line, so the cost is
 * bounded by what was masked; a span in a form not looked for here (base64) is masked but not attributed. A short span
 * is matched by looking up each of its substrings of a needle's length in a table of the needles, so its cost does
 * not grow with the number of values in the scope (this runs for every masked log line).
 */
export class ExposureAttribution {
  private readonly candidates: readonly Candidate[];
  /** Needle length → the needle's bytes (latin1, one char a byte) → the candidates having that needle. */
  private readonly byLength = new Map<number, Map<string, number[]>>();
  /** The lengths of `byLength`, shortest first. */
  private readonly lengths: readonly number[];
  private readonly needleCount: number;

  constructor(values: readonly AttributedValue[], minLength: number) {
    this.candidates = values
      .filter((entry) => entry.value.trim().length >= minLength)
      .map((entry) => ({
        reference: { key: entry.key, version: entry.version, scope: entry.scope },
        needles: needlesOf(entry.value, minLength),
      }));
    this.candidates.forEach(({ needles }, index) => {
      for (const needle of needles) {
        let table = this.byLength.get(needle.length);
        if (!table) this.byLength.set(needle.length, (table = new Map()));
        const key = needle.toString('latin1');
        const holders = table.get(key);
        if (!holders) table.set(key, [index]);
        else if (holders[holders.length - 1] !== index) holders.push(index);
      }
    });
    this.lengths = [...this.byLength.keys()].sort((a, b) => a - b);
    this.needleCount = this.candidates.reduce((count, { needles }) => count + needles.length, 0);
  }

  /** The distinct references whose value one of `spans` (flattened `[start, end)` pairs of `input`) showed. */
  attribute(input: Uint8Array, spans: readonly number[]): SeenReference[] {
    const seen = new Map<string, SeenReference>();
    const bytes = Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    for (let i = 0; i < Math.min(spans.length, MAX_SPANS * 2); i += 2) {
      const region = bytes.subarray(spans[i], spans[i + 1]);
      // In candidate order, as the scan finds them, so both ways name the same references in the same order.
      const found = this.lookUpIsCheaper(region.length) ? this.lookUp(region) : this.scan(region);
      for (const index of found) {
        const { reference } = this.candidates[index];
        seen.set(`${reference.scope}/${reference.key}/${reference.version}`, reference);
      }
    }
    return [...seen.values()];
  }

  /**
   * Whether looking a span up costs less than scanning it: a lookup hashes every substring of each needle length
   * (values of many lengths make that quadratic in the span), a scan searches the span once per needle. Choosing the
   * cheaper bounds what one tenant's values can make a line cost by the smaller of the two.
   */
  private lookUpIsCheaper(spanLength: number): boolean {
    if (spanLength > MAX_INDEXED_SPAN) return false;
    let hashed = 0;
    for (const length of this.lengths) {
      if (length > spanLength) break;
      hashed += (spanLength - length + 1) * length;
    }
    return hashed < this.needleCount * spanLength;
  }

  /** The candidates one of whose needles lies in `region`: each substring of a needle's length looked up. */
  private lookUp(region: Buffer): number[] {
    const text = region.toString('latin1');
    const found = new Set<number>();
    for (const length of this.lengths) {
      if (length > text.length) break;
      const table = this.byLength.get(length)!;
      for (let at = 0; at + length <= text.length; at++) {
        for (const index of table.get(text.slice(at, at + length)) ?? []) found.add(index);
      }
    }
    return [...found].sort((a, b) => a - b);
  }

  /** The same, by testing every candidate's needles against `region`. */
  private scan(region: Buffer): number[] {
    const found: number[] = [];
    this.candidates.forEach(({ needles }, index) => {
      if (needles.some((needle) => needle.length <= region.length && region.includes(needle))) found.push(index);
    });
    return found;
  }
}
