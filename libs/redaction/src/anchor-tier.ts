import { pushRegion } from './match-regions';
import { PatternPool } from './pattern-pool';
import { ScanWork } from './scan-work';

/** Longest stride between sampled input positions; anchor offsets 0..stride-1 must fit OFFSET_BITS. */
export const MAX_STRIDE = 8;
/** Patterns at least this long sit in the wide tier: 8-byte grams sampled every MAX_STRIDE bytes. */
export const WIDE_MIN_LENGTH = 8 + MAX_STRIDE - 1;

const OFFSET_BITS = 4;
const OFFSET_MASK = (1 << OFFSET_BITS) - 1;
/** Bitmap bits per index entry: about one sampled position in 16 hits a set bit by chance. */
const BITMAP_BITS_PER_ENTRY = 16;
const MAX_TABLE_BITS = 28;

/** ASCII letters differ from their other case in this bit only. */
const CASE_BIT = 0x20;
/** Grams are hashed with every byte's case bit set, so escapes in either hex case land in the same bucket. */
const FOLD_CASE = 0x20202020;

/**
 * A hashed anchor index over patterns whose shortest has length `m`: every pattern is indexed by its `gramLength`-byte
 * grams at offsets 0..stride-1, with `stride = m - gramLength + 1`. Any occurrence then covers exactly one input
 * position that is a multiple of `stride` with its whole gram inside the occurrence, so the scan looks at every
 * stride-th position only: a bitmap test per position, verification only on a hit. The cost per input byte depends
 * on the stride and the bitmap's density, not on the number of patterns.
 */
export class AnchorTier {
  private constructor(
    private readonly pool: PatternPool,
    readonly gramLength: number,
    readonly stride: number,
    private readonly bitmap: Int32Array,
    private readonly bitmapShift: number,
    private readonly bucketStarts: Uint32Array,
    private readonly bucketShift: number,
    /** `patternId << OFFSET_BITS | anchorOffset`, grouped by bucket. */
    private readonly entries: Int32Array,
  ) {}

  static build(pool: PatternPool, ids: readonly number[]): AnchorTier {
    const shortest = ids.reduce((min, id) => Math.min(min, pool.lengthOf(id)), Infinity);
    const gramLength = shortest >= 8 ? 8 : Math.min(4, shortest);
    const stride = Math.min(MAX_STRIDE, shortest - gramLength + 1);
    const entryCount = ids.length * stride;
    const bitmapBits = Math.min(MAX_TABLE_BITS, Math.max(10, Math.ceil(Math.log2(entryCount * BITMAP_BITS_PER_ENTRY))));
    const bucketBits = Math.min(bitmapBits, Math.max(1, Math.ceil(Math.log2(entryCount))));
    const bitmapShift = 32 - bitmapBits;
    const bucketShift = 32 - bucketBits;

    const bitmap = new Int32Array(2 ** (bitmapBits - 5));
    const bucketStarts = new Uint32Array(2 ** bucketBits + 1);
    const hashes = new Uint32Array(entryCount);
    let e = 0;
    for (const id of ids) {
      for (let offset = 0; offset < stride; offset++, e++) {
        const hash = hashGramAt(pool.bytes, pool.starts[id] + offset, gramLength);
        hashes[e] = hash;
        const slot = hash >>> bitmapShift;
        bitmap[slot >>> 5] |= 1 << (slot & 31);
        bucketStarts[(hash >>> bucketShift) + 1]++;
      }
    }
    for (let b = 1; b < bucketStarts.length; b++) bucketStarts[b] += bucketStarts[b - 1];
    const fill = bucketStarts.slice(0, -1);
    const entries = new Int32Array(entryCount);
    e = 0;
    for (const id of ids) {
      for (let offset = 0; offset < stride; offset++, e++) {
        entries[fill[hashes[e] >>> bucketShift]++] = (id << OFFSET_BITS) | offset;
      }
    }
    return new AnchorTier(pool, gramLength, stride, bitmap, bitmapShift, bucketStarts, bucketShift, entries);
  }

  get byteLength(): number {
    return this.bitmap.byteLength + this.bucketStarts.byteLength + this.entries.byteLength;
  }

  /**
   * Appends `[start, end)` of every pattern occurrence in `input` to `regions`, widened over partial base64
   * characters, unless the index entries visited and bytes compared take `work.anchorSteps` past `limit`: then it
   * returns false, having gone past by at most one verification (no longer than the input).
   */
  scan(input: Uint8Array, regions: number[], work: ScanWork, limit: number): boolean {
    const { gramLength, stride, bitmap, bitmapShift } = this;
    const last = input.length - gramLength;
    let steps = work.anchorSteps;
    if (gramLength === 8) {
      for (let p = 0; p <= last; p += stride) {
        const low = input[p] | (input[p + 1] << 8) | (input[p + 2] << 16) | (input[p + 3] << 24);
        const high = input[p + 4] | (input[p + 5] << 8) | (input[p + 6] << 16) | (input[p + 7] << 24);
        const hash = gramHash(low, high);
        const slot = hash >>> bitmapShift;
        if ((bitmap[slot >>> 5] & (1 << (slot & 31))) === 0) continue;
        steps += this.verify(input, p, hash, regions, limit - steps);
        if (steps > limit) break;
      }
    } else {
      for (let p = 0; p <= last; p += stride) {
        const hash = hashGramAt(input, p, gramLength);
        const slot = hash >>> bitmapShift;
        if ((bitmap[slot >>> 5] & (1 << (slot & 31))) === 0) continue;
        steps += this.verify(input, p, hash, regions, limit - steps);
        if (steps > limit) break;
      }
    }
    work.anchorSteps = steps;
    return steps <= limit;
  }

  /**
   * Checks the patterns anchored in the gram's bucket against the input around position `p`, until the steps taken
   * exceed `allowed`; returns the steps (entries visited plus bytes compared).
   */
  private verify(input: Uint8Array, p: number, hash: number, regions: number[], allowed: number): number {
    const { starts, flags } = this.pool;
    const gramLength = this.gramLength;
    const end = this.bucketStarts[(hash >>> this.bucketShift) + 1];
    let steps = 0;
    for (let e = this.bucketStarts[hash >>> this.bucketShift]; e < end && steps <= allowed; e++) {
      steps++;
      const entry = this.entries[e];
      const id = entry >>> OFFSET_BITS;
      const start = p - (entry & OFFSET_MASK);
      const patternStart = starts[id];
      const length = starts[id + 1] - patternStart;
      if (start < 0 || start + length > input.length) continue;
      // Bytes after the gram first: patterns sharing a prefix (sk_live_…, -----BEGIN…) part ways there.
      const gramEnd = p - start + gramLength;
      const after = this.mismatchAt(input, start, patternStart, gramEnd, length);
      steps += after - gramEnd;
      if (after < length) continue;
      const before = this.mismatchAt(input, start, patternStart, 0, gramEnd);
      steps += before;
      if (before < gramEnd) continue;
      pushRegion(input, start, start + length, flags[id], regions);
    }
    return steps;
  }

  /** The first of pattern bytes `from..to` that differs from the input's at `start` (escape hex letters in either case), or `to`. */
  private mismatchAt(input: Uint8Array, start: number, patternStart: number, from: number, to: number): number {
    const { bytes, hexLetters } = this.pool;
    for (let i = from; i < to; i++) {
      const expected = bytes[patternStart + i];
      const actual = input[start + i];
      if (expected === actual) continue;
      const at = patternStart + i;
      if ((expected ^ actual) !== CASE_BIT || (hexLetters[at >>> 3] & (1 << (at & 7))) === 0) return i;
    }
    return to;
  }
}

/** The hash of the `gramLength` (1..4 or 8) bytes at `at`, read little-endian. */
function hashGramAt(bytes: Uint8Array, at: number, gramLength: number): number {
  let low = 0;
  let high = 0;
  for (let i = 0; i < Math.min(4, gramLength); i++) low |= bytes[at + i] << (8 * i);
  for (let i = 4; i < gramLength; i++) high |= bytes[at + i] << (8 * (i - 4));
  return gramHash(low, high);
}

/** A multiplicative hash whose top bits index the bitmap and the buckets; blind to the case bit. */
function gramHash(rawLow: number, rawHigh: number): number {
  const low = rawLow | FOLD_CASE;
  const high = rawHigh | FOLD_CASE;
  const mixed = Math.imul(low ^ Math.imul(high ^ (high >>> 16), 0x85ebca6b), 0x9e3779b1);
  return (mixed ^ (mixed >>> 15)) >>> 0;
}
