// The semantics in libs/redaction/README.md by brute force: the oracle the matcher's specs compare against.
import { MASK } from '../redaction-matcher';
import { formsOfValue, isBelowMinLength, type ValueForm } from '../value-forms';

/** A base64 character as it may be written around a match: plain, percent-encoded or PHP-escaped. */
const PARTIAL_CHAR_BEFORE = /(%2[bBfF]|\\\/|[A-Za-z0-9+/_-])$/;
const PARTIAL_CHAR_AND_PADDING_AFTER = /^(%2[bBfF]|\\\/|[A-Za-z0-9+/_-])(=|%3[dD]){0,2}/;

/** Offsets in `input` where `form` occurs, its escape hex letters matching in either case. */
export function occurrences(input: Buffer, form: ValueForm): number[] {
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
export function referenceRedact(
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
