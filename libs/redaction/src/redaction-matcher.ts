import { AnchorTier, WIDE_MIN_LENGTH } from './anchor-tier';
import { AutomatonTier } from './automaton-tier';
import { PatternPool } from './pattern-pool';
import { RedactionError, RedactionErrorCode } from './redaction-error';
import { ScanWork } from './scan-work';
import { formsOfValue, isBelowMinLength } from './value-forms';

/** What every masked region becomes. */
export const MASK = '********';
export const DEFAULT_MIN_LENGTH = 4;

const MASK_BYTES = Buffer.from(MASK, 'latin1');
/** Counts the work of calls that do not ask for it; redaction is synchronous, so one is enough. */
const UNCOUNTED = new ScanWork();

export interface MatcherOptions {
  /**
   * Values (and lines of multi-line values) with fewer code points than this, surrounding whitespace aside, are not
   * matched. Default 4.
   */
  readonly minLength?: number;
}

export interface RedactedBytes {
  /** The input itself when nothing matched, otherwise a new array. */
  readonly output: Uint8Array;
  /** Masked regions, after overlapping and adjacent matches were merged. */
  readonly count: number;
  /** Those regions in the input, `[start, end)` byte offsets flattened in order (`count` pairs): what was masked. */
  readonly spans: readonly number[];
}

export interface RedactedText {
  readonly output: string;
  readonly count: number;
}

export interface MatcherStats {
  /** Distinct values matched. */
  readonly values: number;
  /** Distinct values left unmatched because they are shorter than `minLength`. */
  readonly valuesBelowMinLength: number;
  /** Distinct byte patterns searched for: every form of every value. */
  readonly patterns: number;
  /** Memory held by the patterns and their anchor index. */
  readonly indexBytes: number;
}

/**
 * Masks every form of a fixed set of secret values in log bytes; built once per scope, then shared read-only (the
 * automaton tier is built on first need and kept).
 */
export class RedactionMatcher {
  private automaton: AutomatonTier | undefined;

  /** @internal Built by `buildMatcher`. */
  constructor(
    private readonly pool: PatternPool,
    private readonly tiers: readonly AnchorTier[],
    readonly stats: MatcherStats,
  ) {}

  /** Memory held by the automaton tier: 0 until an input first exceeds the anchor tiers' work budget. */
  get automatonBytes(): number {
    return this.automaton?.byteLength ?? 0;
  }

  /**
   * Masks every match in `input`. The anchor tiers verify candidates within a work budget linear in the input's
   * length; past it, the input is scanned again by the automaton tier, linear by construction. `work` counts both.
   */
  redactBytes(input: Uint8Array, work: ScanWork = UNCOUNTED.reset()): RedactedBytes {
    const regions: number[] = [];
    const limit = work.anchorSteps + work.anchorPerByte * input.length + work.anchorBase;
    for (const tier of this.tiers) {
      if (work.anchorBase < 0 || !tier.scan(input, regions, work, limit)) return this.redactPastBudget(input, work);
    }
    if (regions.length === 0) return { output: input, count: 0, spans: [] };
    return maskRegions(input, regions);
  }

  /** Scans `input` again in the automaton tier, building it on first need. */
  private redactPastBudget(input: Uint8Array, work: ScanWork): RedactedBytes {
    work.usedAutomaton = true;
    const regions: number[] = [];
    this.automaton ??= AutomatonTier.build(this.pool);
    this.automaton.scan(input, regions, work);
    if (regions.length === 0) return { output: input, count: 0, spans: [] };
    return maskRegions(input, regions);
  }

  /** Redacts the UTF-8 bytes of `text`; text without a match is returned as it came, even if not well-formed UTF-16. */
  redactText(text: string): RedactedText {
    if (text.length === 0 || this.tiers.length === 0) return { output: text, count: 0 };
    const { output, count } = this.redactBytes(Buffer.from(text, 'utf8'));
    if (count === 0) return { output: text, count };
    return { output: Buffer.from(output.buffer, output.byteOffset, output.byteLength).toString('utf8'), count };
  }
}

/**
 * Builds a matcher for `values`: their raw bytes, trimmed lines, JSON, URL, env and base64 forms. The cost of
 * redacting a byte does not grow with the number of values; memory grows linearly.
 */
export function buildMatcher(values: readonly string[], options: MatcherOptions = {}): RedactionMatcher {
  const minLength = options.minLength ?? DEFAULT_MIN_LENGTH;
  if (!Number.isInteger(minLength) || minLength < 1) {
    throw new RedactionError(RedactionErrorCode.INVALID_MIN_LENGTH, 'minLength must be a positive integer');
  }
  const collector = PatternPool.collector();
  const distinct = new Set<string>();
  let valuesBelowMinLength = 0;
  values.forEach((value, index) => {
    if (typeof value !== 'string') {
      throw new RedactionError(RedactionErrorCode.INVALID_VALUE, `value at index ${index} is not a string`);
    }
    if (distinct.has(value)) return;
    distinct.add(value);
    if (isBelowMinLength(value, minLength)) {
      valuesBelowMinLength++;
      return;
    }
    for (const form of formsOfValue(value, minLength)) collector.add(form);
  });
  const pool = collector.finish();

  const wide: number[] = [];
  const narrow: number[] = [];
  for (let id = 0; id < pool.size; id++) (pool.lengthOf(id) >= WIDE_MIN_LENGTH ? wide : narrow).push(id);
  const tiers = [wide, narrow].filter((ids) => ids.length > 0).map((ids) => AnchorTier.build(pool, ids));

  return new RedactionMatcher(pool, tiers, {
    values: distinct.size - valuesBelowMinLength,
    valuesBelowMinLength,
    patterns: pool.size,
    indexBytes: pool.byteLength + tiers.reduce((sum, tier) => sum + tier.byteLength, 0),
  });
}

/** Replaces each union of overlapping or touching `[start, end)` regions with one mask. */
function maskRegions(input: Uint8Array, regions: readonly number[]): RedactedBytes {
  const spans: [number, number][] = [];
  for (let i = 0; i < regions.length; i += 2) spans.push([regions[i], regions[i + 1]]);
  spans.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const [start, end] of spans) {
    const previous = merged[merged.length - 1];
    if (previous !== undefined && start <= previous[1]) previous[1] = Math.max(previous[1], end);
    else merged.push([start, end]);
  }

  const maskedBytes = merged.reduce((sum, [start, end]) => sum + end - start, 0);
  const output = new Uint8Array(input.length - maskedBytes + merged.length * MASK_BYTES.length);
  let read = 0;
  let write = 0;
  for (const [start, end] of merged) {
    output.set(input.subarray(read, start), write);
    write += start - read;
    output.set(MASK_BYTES, write);
    write += MASK_BYTES.length;
    read = end;
  }
  output.set(input.subarray(read), write);
  return { output, count: merged.length, spans: merged.flat() };
}
