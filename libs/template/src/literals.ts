// Go's strconv rules for the literals a template may contain (Unquote, UnquoteChar, ParseInt/ParseFloat with base 0).

export class SyntaxError extends Error {
  constructor(message = 'invalid syntax') {
    super(message);
  }
}

const simpleEscapes: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 0x5c };

function hexValue(c: string): number {
  const n = parseInt(c, 16);
  return Number.isNaN(n) || !/^[0-9a-fA-F]$/.test(c) ? -1 : n;
}

/** strconv.UnquoteChar: the code point at `i` (after escapes) and where the next one starts. */
export function unquoteChar(s: string, i: number, quote: string): { cp: number; next: number; byte: boolean } {
  const c = s[i];
  if (c === undefined) throw new SyntaxError();
  if (c === quote && (quote === "'" || quote === '"')) throw new SyntaxError();
  if (c !== '\\') {
    const cp = s.codePointAt(i)!;
    return { cp, next: i + (cp > 0xffff ? 2 : 1), byte: false };
  }
  const e = s[i + 1];
  if (e === undefined) throw new SyntaxError();
  if (e in simpleEscapes) return { cp: simpleEscapes[e], next: i + 2, byte: false };
  switch (e) {
    case 'x':
    case 'u':
    case 'U': {
      const n = e === 'x' ? 2 : e === 'u' ? 4 : 8;
      let v = 0;
      for (let j = 0; j < n; j++) {
        const h = hexValue(s[i + 2 + j] ?? '');
        if (h < 0) throw new SyntaxError();
        v = v * 16 + h;
      }
      if (e === 'x') return { cp: v, next: i + 2 + n, byte: true };
      if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) throw new SyntaxError();
      return { cp: v, next: i + 2 + n, byte: false };
    }
    case "'":
    case '"':
      if (e !== quote) throw new SyntaxError();
      return { cp: e.charCodeAt(0), next: i + 2, byte: false };
  }
  if (e >= '0' && e <= '7') {
    let v = 0;
    for (let j = 0; j < 3; j++) {
      const d = s[i + 1 + j];
      if (d === undefined || d < '0' || d > '7') throw new SyntaxError();
      v = v * 8 + (d.charCodeAt(0) - 48);
    }
    if (v > 255) throw new SyntaxError();
    return { cp: v, next: i + 4, byte: true };
  }
  throw new SyntaxError();
}

/** strconv.Unquote for "…" and `…` literals. */
export function unquote(quoted: string): string {
  const q = quoted[0];
  if (quoted.length < 2 || quoted[quoted.length - 1] !== q) throw new SyntaxError();
  const body = quoted.slice(1, -1);
  if (q === '`') {
    if (body.includes('`')) throw new SyntaxError();
    return body.replace(/\r/g, '');
  }
  if (q !== '"') throw new SyntaxError();
  if (!body.includes('\\') && !body.includes('"')) return body;
  let out = '';
  let bytes: number[] = [];
  const flushBytes = (): void => {
    if (bytes.length > 0) {
      out += Buffer.from(bytes).toString('utf8');
      bytes = [];
    }
  };
  for (let i = 0; i < body.length;) {
    if (body[i] === '\n') throw new SyntaxError();
    const { cp, next, byte } = unquoteChar(body, i, '"');
    if (byte) bytes.push(cp);
    else {
      flushBytes();
      out += String.fromCodePoint(cp);
    }
    i = next;
  }
  flushBytes();
  return out;
}

function underscoreOK(s: string): boolean {
  let saw = '^';
  let i = 0;
  if (s.length >= 1 && (s[0] === '-' || s[0] === '+')) s = s.slice(1);
  let hex = false;
  if (s.length >= 2 && s[0] === '0' && 'bBoOxX'.includes(s[1])) {
    i = 2;
    saw = '0';
    hex = s[1] === 'x' || s[1] === 'X';
  }
  for (; i < s.length; i++) {
    const c = s[i];
    if ((c >= '0' && c <= '9') || (hex && /[a-fA-F]/.test(c))) {
      saw = '0';
      continue;
    }
    if (c === '_') {
      if (saw !== '0') return false;
      saw = '_';
      continue;
    }
    if (saw === '_') return false;
    saw = '!';
  }
  return saw !== '_';
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** strconv.ParseInt(s, 0, 64) / ParseUint(s, 0, 64); null when Go would return an error. */
export function parseGoInteger(text: string, unsigned: boolean): bigint | null {
  let s = text;
  let neg = false;
  if (s[0] === '+' || s[0] === '-') {
    if (unsigned) return null;
    neg = s[0] === '-';
    s = s.slice(1);
  }
  if (s.length === 0) return null;
  let base = 10;
  let digits = s;
  if (s[0] === '0' && s.length > 1) {
    const p = s[1].toLowerCase();
    if (p === 'x') [base, digits] = [16, s.slice(2)];
    else if (p === 'b') [base, digits] = [2, s.slice(2)];
    else if (p === 'o') [base, digits] = [8, s.slice(2)];
    else [base, digits] = [8, s.slice(1)];
  }
  if (digits.includes('_') && !underscoreOK(text)) return null;
  digits = digits.replace(/_/g, '');
  if (digits.length === 0) return null;
  const valid = { 2: /^[01]+$/, 8: /^[0-7]+$/, 10: /^[0-9]+$/, 16: /^[0-9a-fA-F]+$/ }[base as 2 | 8 | 10 | 16];
  if (!valid.test(digits)) return null;
  const prefix = { 2: '0b', 8: '0o', 10: '', 16: '0x' }[base as 2 | 8 | 10 | 16];
  let v = BigInt(prefix + digits);
  if (neg) v = -v;
  if (unsigned) return v > UINT64_MAX ? null : v;
  return v < INT64_MIN || v > INT64_MAX ? null : v;
}

/** strconv.ParseFloat(s, 64); null on a syntax or range error. */
export function parseGoFloat(text: string): number | null {
  if (text.includes('_') && !underscoreOK(text)) return null;
  let s = text.replace(/_/g, '');
  let sign = 1;
  if (s[0] === '+' || s[0] === '-') {
    if (s[0] === '-') sign = -1;
    s = s.slice(1);
  }
  let v: number;
  const hexMatch = /^0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?[pP]([+-]?[0-9]+)$/.exec(s);
  if (hexMatch) {
    const [, int, frac = '', exp] = hexMatch;
    if (int.length + frac.length === 0) return null;
    const mantissa = BigInt('0x' + (int + frac || '0'));
    v = Number(mantissa) * 2 ** (Number(exp) - 4 * frac.length);
  } else if (/^(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/.test(s)) {
    v = Number(s);
  } else return null;
  if (!Number.isFinite(v)) return null;
  return sign * v;
}
