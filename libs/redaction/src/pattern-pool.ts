import { RedactionError, RedactionErrorCode } from './redaction-error';
import { ValueForm } from './value-forms';

/** The character before a match carries some of the value's bits when it is a base64 character. */
export const PARTIAL_BEFORE = 1;
/** The character after a match carries some of the value's bits when it is a base64 character (then `=` padding may follow). */
export const PARTIAL_AFTER = 2;

/** Pattern ids share an int32 with a 4-bit anchor offset in the index. */
const MAX_PATTERNS = 2 ** 27;
const MAX_POOL_BYTES = 2 ** 31 - 1;

/**
 * Every distinct pattern's bytes in one buffer: pattern `id` is `bytes[starts[id] .. starts[id + 1])`. Bit `i` of
 * `hexLetters` is set when `bytes[i]` is an escape's hex letter, which matches in either case.
 */
export class PatternPool {
  private constructor(
    readonly bytes: Uint8Array,
    readonly starts: Int32Array,
    readonly flags: Uint8Array,
    readonly hexLetters: Uint8Array,
  ) {}

  get size(): number {
    return this.flags.length;
  }

  lengthOf(id: number): number {
    return this.starts[id + 1] - this.starts[id];
  }

  get byteLength(): number {
    return this.bytes.byteLength + this.starts.byteLength + this.flags.byteLength + this.hexLetters.byteLength;
  }

  /** Collects forms, merging identical bytes from different values or encodings into one pattern. */
  static collector(): PatternCollector {
    const ids = new Map<string, number>();
    const patterns: Uint8Array[] = [];
    const flags: number[] = [];
    const hexLetters = new Map<number, Set<number>>();
    let totalBytes = 0;
    const addHexLetters = (id: number, offsets: readonly number[]) => {
      if (offsets.length === 0) return;
      const known = hexLetters.get(id);
      if (known === undefined) hexLetters.set(id, new Set(offsets));
      else for (const offset of offsets) known.add(offset);
    };
    return {
      add(form: ValueForm): void {
        const key = Buffer.from(form.bytes.buffer, form.bytes.byteOffset, form.bytes.byteLength).toString('latin1');
        const formFlags = (form.partialBefore ? PARTIAL_BEFORE : 0) | (form.partialAfter ? PARTIAL_AFTER : 0);
        const known = ids.get(key);
        if (known !== undefined) {
          // Masking the wider region of the two is always the safe choice.
          flags[known] |= formFlags;
          addHexLetters(known, form.hexLetters);
          return;
        }
        totalBytes += form.bytes.byteLength;
        if (patterns.length >= MAX_PATTERNS || totalBytes > MAX_POOL_BYTES) {
          throw new RedactionError(RedactionErrorCode.CAPACITY_EXCEEDED, 'too many secret values for one matcher');
        }
        addHexLetters(patterns.length, form.hexLetters);
        ids.set(key, patterns.length);
        patterns.push(form.bytes);
        flags.push(formFlags);
      },
      finish(): PatternPool {
        const bytes = new Uint8Array(totalBytes);
        const starts = new Int32Array(patterns.length + 1);
        let offset = 0;
        patterns.forEach((pattern, id) => {
          starts[id] = offset;
          bytes.set(pattern, offset);
          offset += pattern.byteLength;
        });
        starts[patterns.length] = offset;
        const letterBits = new Uint8Array(Math.ceil(offset / 8));
        for (const [id, offsets] of hexLetters) {
          for (const at of offsets) letterBits[(starts[id] + at) >>> 3] |= 1 << ((starts[id] + at) & 7);
        }
        return new PatternPool(bytes, starts, Uint8Array.from(flags), letterBits);
      },
    };
  }
}

export interface PatternCollector {
  add(form: ValueForm): void;
  finish(): PatternPool;
}
