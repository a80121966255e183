import { PARTIAL_AFTER, PARTIAL_BEFORE } from './pattern-pool';

const EQUALS_SIGN = 0x3d;
const PERCENT_SIGN = 0x25;
const BACKSLASH = 0x5c;
const SLASH = 0x2f;
/** ASCII letters differ from their other case in this bit only. */
const CASE_BIT = 0x20;
const BASE64_CHAR = new Uint8Array(256);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/-_') BASE64_CHAR[c.charCodeAt(0)] = 1;

/** The most bytes a match's start moves left over a partial base64 character (`%2B`). */
export const MAX_WIDENING_BEFORE = 3;

/**
 * Records a match, widened over the characters that mix the value's bits with its neighbours' and any padding. Those
 * characters may be percent-encoded (`%2B`, `%2F`, `%3D`) or, for a slash, escaped as in PHP's JSON (`\/`).
 */
export function pushRegion(input: Uint8Array, start: number, end: number, flags: number, regions: number[]): void {
  regions.push(
    (flags & PARTIAL_BEFORE) !== 0 ? widenedStart(input, start) : start,
    (flags & PARTIAL_AFTER) !== 0 ? widenedEnd(input, end) : end,
  );
}

/** Where a match starting at `start` begins once the partial base64 character before it is included. */
export function widenedStart(input: Uint8Array, start: number): number {
  return start - base64CharLengthBefore(input, start);
}

/** Where a match ending at `end` ends once the partial base64 character after it and its padding are included. */
export function widenedEnd(input: Uint8Array, end: number): number {
  const partial = base64CharLengthAt(input, end);
  if (partial === 0) return end;
  end += partial;
  for (let pad = 0; pad < 2; pad++) {
    if (input[end] === EQUALS_SIGN) end++;
    else if (isPercentEscapeAt(input, end, 0x33, 0x64)) end += 3;
    else break;
  }
  return end;
}

/**
 * Adds `[start, end)` to `merged`, a flat list of disjoint, non-touching regions in order, given that every region
 * already there starts before `end` (true when regions arrive in order of their unwidened ends).
 */
export function mergeRegion(merged: number[], start: number, end: number): void {
  while (merged.length > 0 && merged[merged.length - 1] >= start) {
    end = Math.max(end, merged.pop() as number);
    start = Math.min(start, merged.pop() as number);
  }
  merged.push(start, end);
}

/** The length of the base64 character written at `at`: 3 for `%2B` or `%2F`, 2 for `\/`, 1, or 0 if none. */
function base64CharLengthAt(input: Uint8Array, at: number): number {
  if (isEscapedBase64CharAt(input, at)) return 3;
  if (input[at] === BACKSLASH && input[at + 1] === SLASH) return 2;
  return at < input.length && BASE64_CHAR[input[at]] === 1 ? 1 : 0;
}

/** The length of the base64 character that ends just before `at`, as `base64CharLengthAt` counts it. */
function base64CharLengthBefore(input: Uint8Array, at: number): number {
  if (at >= 3 && isEscapedBase64CharAt(input, at - 3)) return 3;
  if (at >= 2 && input[at - 2] === BACKSLASH && input[at - 1] === SLASH) return 2;
  return at >= 1 && BASE64_CHAR[input[at - 1]] === 1 ? 1 : 0;
}

function isEscapedBase64CharAt(input: Uint8Array, at: number): boolean {
  return isPercentEscapeAt(input, at, 0x32, 0x62) || isPercentEscapeAt(input, at, 0x32, 0x66);
}

/** Whether `%` followed by the digit `high` and the hex letter `low` (lower-case given; either case matches) is at `at`. */
function isPercentEscapeAt(input: Uint8Array, at: number, high: number, low: number): boolean {
  return (
    at + 2 < input.length && input[at] === PERCENT_SIGN && input[at + 1] === high && (input[at + 2] | CASE_BIT) === low
  );
}
