// Go's fmt (Sprint, Sprintln, Sprintf) for the value kinds templates see, ported from Go's print.go/format.go.
import {
  GoComplex,
  GoFloat,
  GoUint8,
  compareGoStrings,
  hasNonAscii,
  isMap,
  mapGet,
  sortedKeys,
  typeName,
  utf8Bytes,
  type GoMap,
} from './values';

/** A function would build a result larger than any output may be. */
export class ResultTooLarge extends Error {}

/** Largest string a function may build (the output limit; the executor reports it as such). */
export const MAX_RESULT_LENGTH = 10 * 1024 * 1024;

const printable = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;

/** Go's `unicode.IsPrint` / `strconv.IsPrint`. */
export function isPrintRune(cp: number): boolean {
  if (cp < 0x7f) return cp >= 0x20;
  if (cp < 0xa1) return false;
  return printable.test(String.fromCodePoint(cp));
}

function hex(n: number, width: number, upper = false): string {
  const s = n.toString(16);
  return (upper ? s.toUpperCase() : s).padStart(width, '0');
}

function quoteRuneInto(cp: number, quote: number, asciiOnly: boolean): string {
  if (cp === quote || cp === 0x5c) return '\\' + String.fromCharCode(cp);
  if (asciiOnly ? cp < 0x80 && isPrintRune(cp) : isPrintRune(cp)) return String.fromCodePoint(cp);
  switch (cp) {
    case 7:
      return '\\a';
    case 8:
      return '\\b';
    case 12:
      return '\\f';
    case 10:
      return '\\n';
    case 13:
      return '\\r';
    case 9:
      return '\\t';
    case 11:
      return '\\v';
  }
  if (cp < 0x20 || cp === 0x7f) return '\\x' + hex(cp, 2);
  if (cp < 0x10000) return '\\u' + hex(cp, 4);
  return '\\U' + hex(cp, 8);
}

/** Go's `strconv.Quote` (or `QuoteToASCII`). */
export function goQuote(s: string, asciiOnly = false): string {
  let out = '"';
  for (const ch of s) out += quoteRuneInto(ch.codePointAt(0)!, 0x22, asciiOnly);
  return out + '"';
}

function goQuoteRune(cp: number, asciiOnly: boolean): string {
  if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) cp = 0xfffd;
  return "'" + quoteRuneInto(cp, 0x27, asciiOnly) + "'";
}

function canBackquote(s: string): boolean {
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (cp === 0x60 || cp === 0xfeff) return false;
    if (cp < 0x20 && cp !== 9) return false;
    if (cp === 0x7f) return false;
  }
  return true;
}

/**
 * Go's fmt parsenum: a literal width or precision; one that grows past 1e6 is "crazy long" and consumes the rest of
 * the format (so the verb is missing), which also keeps a template from asking for a gigabyte of padding.
 */
function parseNum(format: string, start: number, end: number): [num: number, isNum: boolean, next: number] {
  let num = 0;
  let isNum = false;
  let next = start;
  for (; next < end && format[next] >= '0' && format[next] <= '9'; next++) {
    if (num > 1e6 || num < -1e6) return [0, false, end];
    num = num * 10 + (format.charCodeAt(next) - 48);
    isNum = true;
  }
  return [num, isNum, next];
}

function runeCount(s: string): number {
  if (!hasNonAscii(s)) return s.length;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdbff) n++;
  }
  return n;
}

// ---- float digits, exactly as strconv rounds them (round half to even on the exact binary value) ----

interface Decimal {
  d: string; // significant digits, no leading or trailing zeros
  dp: number; // decimal point position: value = 0.d × 10^dp
}

function trimZeros(dec: Decimal): Decimal {
  let end = dec.d.length;
  while (end > 0 && dec.d.charCodeAt(end - 1) === 48) end--;
  return end === dec.d.length ? dec : { d: dec.d.slice(0, end), dp: end === 0 ? 0 : dec.dp };
}

/** Shortest digits that round-trip (V8's Number#toExponential() without argument). */
function shortestDecimal(x: number): Decimal {
  if (x === 0) return { d: '', dp: 0 };
  const s = Math.abs(x).toExponential();
  const e = s.indexOf('e');
  const digits = s.slice(0, e).replace('.', '');
  return trimZeros({ d: digits, dp: Number(s.slice(e + 1)) + 1 });
}

/** The exact decimal expansion of a finite double. */
function exactDecimal(x: number): Decimal {
  x = Math.abs(x);
  if (x === 0) return { d: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const lo = view.getUint32(4);
  const biased = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo);
  let exp: number;
  if (biased === 0) exp = -1074;
  else {
    mant |= 1n << 52n;
    exp = biased - 1075;
  }
  let digits: string;
  let dp: number;
  if (exp >= 0) {
    digits = (mant << BigInt(exp)).toString();
    dp = digits.length;
  } else {
    digits = (mant * 5n ** BigInt(-exp)).toString();
    dp = digits.length + exp;
  }
  return trimZeros({ d: digits, dp });
}

/** strconv's decimal.Round(nd): to nd digits, half to even. */
function roundDecimal(a: Decimal, nd: number): Decimal {
  if (nd < 0 || nd >= a.d.length) return a;
  const c = a.d.charCodeAt(nd);
  let up: boolean;
  if (c === 53 /* 5 */ && nd + 1 === a.d.length) up = nd > 0 && (a.d.charCodeAt(nd - 1) - 48) % 2 === 1;
  else up = c >= 53;
  if (!up) return trimZeros({ d: a.d.slice(0, nd), dp: a.dp });
  for (let i = nd - 1; i >= 0; i--) {
    const ch = a.d.charCodeAt(i);
    if (ch < 57) return { d: a.d.slice(0, i) + String.fromCharCode(ch + 1), dp: a.dp };
  }
  return { d: '1', dp: a.dp + 1 };
}

function fmtE(dec: Decimal, prec: number, e: string): string {
  let out = dec.d.length === 0 ? '0' : dec.d[0];
  if (prec > 0) {
    out += '.';
    let i = 1;
    const m = Math.min(dec.d.length, prec + 1);
    if (i < m) {
      out += dec.d.slice(i, m);
      i = m;
    }
    if (i <= prec) out += '0'.repeat(prec - i + 1);
  }
  out += e;
  let exp = dec.dp - 1;
  if (dec.d.length === 0) exp = 0;
  out += exp < 0 ? '-' : '+';
  exp = Math.abs(exp);
  out += exp < 10 ? '0' + exp : String(exp);
  return out;
}

function fmtF(dec: Decimal, prec: number): string {
  let out = '';
  if (dec.dp > 0) {
    const m = Math.min(dec.d.length, dec.dp);
    out += dec.d.slice(0, m);
    for (let i = m; i < dec.dp; i++) out += '0';
  } else out = '0';
  if (prec > 0) {
    // Digit j = dp + i - 1 for i in 1..prec: zeros before the digits, the digits, zeros after.
    const before = Math.min(prec, Math.max(0, -dec.dp));
    const digits = dec.d.slice(Math.max(dec.dp, 0), Math.max(Math.min(dec.d.length, dec.dp + prec), 0));
    out += '.' + '0'.repeat(before) + digits + '0'.repeat(prec - before - digits.length);
  }
  return out;
}

/** The float64's mantissa (with its implicit bit) and unbiased binary exponent, as strconv reads them. */
function floatBits(x: number): { mant: bigint; exp: number } {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  let exp = (hi >>> 20) & 0x7ff;
  if (exp === 0) exp++;
  else mant |= 1n << 52n;
  return { mant, exp: exp - 1023 };
}

/** strconv's %b: -ddddp±ddd. */
function fmtB(neg: boolean, x: number): string {
  const { mant, exp } = floatBits(x);
  const e = exp - 52;
  return (neg ? '-' : '') + mant.toString() + 'p' + (e >= 0 ? '+' : '') + String(e);
}

const MASK64 = (1n << 64n) - 1n;

/** strconv's %x: -0x1.yyyyp±dd. */
function fmtX(neg: boolean, x: number, prec: number, upper: boolean): string {
  let { mant, exp } = floatBits(x);
  if (mant === 0n) exp = 0;
  mant = (mant << 8n) & MASK64; // leading 1 at bit 60
  while (mant !== 0n && (mant & (1n << 60n)) === 0n) {
    mant = (mant << 1n) & MASK64;
    exp--;
  }
  if (prec >= 0 && prec < 15) {
    const shift = BigInt(prec * 4);
    const extra = (mant << shift) & ((1n << 60n) - 1n);
    mant >>= 60n - shift;
    if ((extra | (mant & 1n)) > 1n << 59n) mant++;
    mant = (mant << (60n - shift)) & MASK64;
    if ((mant & (1n << 61n)) !== 0n) {
      mant >>= 1n;
      exp++;
    }
  }
  const hexDigits = upper ? '0123456789ABCDEF' : '0123456789abcdef';
  let out = (neg ? '-' : '') + '0' + (upper ? 'X' : 'x') + String((mant >> 60n) & 1n);
  mant = (mant << 4n) & MASK64;
  if (prec < 0 && mant !== 0n) {
    out += '.';
    while (mant !== 0n) {
      out += hexDigits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
  } else if (prec > 0) {
    out += '.';
    let i = 0;
    for (; i < prec && mant !== 0n; i++) {
      out += hexDigits[Number((mant >> 60n) & 15n)];
      mant = (mant << 4n) & MASK64;
    }
    out += '0'.repeat(prec - i);
  }
  out += upper ? 'P' : 'p';
  out += exp < 0 ? '-' : '+';
  const e = Math.abs(exp);
  out += e < 10 ? '0' + e : String(e);
  return out;
}

/** strconv.FormatFloat(x, verb, prec, 64) for verbs b e E f g G x X (sign included when negative). */
export function formatFloat(x: number, verb: string, prec: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (!Number.isFinite(x)) return x > 0 ? '+Inf' : '-Inf';
  const neg = x < 0 || Object.is(x, -0);
  const sign = neg ? '-' : '';
  if (verb === 'b') return fmtB(neg, x);
  if (verb === 'x' || verb === 'X') return fmtX(neg, x, prec, verb === 'X');
  const shortest = prec < 0;
  let dec: Decimal;
  switch (verb) {
    case 'e':
    case 'E': {
      dec = shortest ? shortestDecimal(x) : roundDecimal(exactDecimal(x), prec + 1);
      return sign + fmtE(dec, shortest ? Math.max(dec.d.length - 1, 0) : prec, verb);
    }
    case 'f': {
      if (shortest) {
        dec = shortestDecimal(x);
        return sign + fmtF(dec, Math.max(dec.d.length - dec.dp, 0));
      }
      const exact = exactDecimal(x);
      dec = roundDecimal(exact, exact.dp + prec);
      return sign + fmtF(dec, prec);
    }
    default: {
      let p = prec;
      if (shortest) dec = shortestDecimal(x);
      else {
        if (p === 0) p = 1;
        dec = roundDecimal(exactDecimal(x), p);
      }
      let eprec = shortest ? 6 : p;
      if (!shortest && eprec > dec.d.length && dec.d.length >= dec.dp) eprec = dec.d.length;
      if (shortest) p = dec.d.length;
      const exp = dec.dp - 1;
      if (exp < -4 || exp >= eprec) {
        if (p > dec.d.length) p = dec.d.length;
        return sign + fmtE(dec, p - 1, verb === 'G' ? 'E' : 'e');
      }
      if (p > dec.dp) p = dec.d.length;
      return sign + fmtF(dec, Math.max(p - dec.dp, 0));
    }
  }
}

// ---- the printer ----

class Printer {
  buf = '';
  private plus = false;
  private minus = false;
  private sharp = false;
  private space = false;
  private zero = false;
  private plusV = false;
  private sharpV = false;
  private widPresent = false;
  private precPresent = false;
  private wid = 0;
  private prec = 0;

  clearFlags(): void {
    this.plus = this.minus = this.sharp = this.space = this.zero = false;
    this.plusV = this.sharpV = this.widPresent = this.precPresent = false;
    this.wid = this.prec = 0;
  }

  /** Padding of `n` characters, refused before it is built when the result would pass the output limit. */
  private padding(n: number): string {
    if (n <= 0) return '';
    tooLargeWith(this.buf, n);
    return (this.zero ? '0' : ' ').repeat(n);
  }

  private pad(s: string): void {
    if (!this.widPresent || this.wid === 0) {
      this.buf += s;
      return;
    }
    const width = this.wid - runeCount(s);
    if (!this.minus) this.buf += this.padding(width) + s;
    else this.buf += s + this.padding(width);
  }

  private truncateString(s: string): string {
    if (!this.precPresent) return s;
    let n = this.prec;
    let i = 0;
    for (const ch of s) {
      if (--n < 0) return s.slice(0, i);
      i += ch.length;
    }
    return s;
  }

  private badVerb(verb: string, value: unknown): void {
    this.buf += '%!' + verb + '(';
    if (value === undefined || value === null) this.buf += '<nil>';
    else {
      this.buf += typeName(value) + '=';
      this.printArg(value, 'v');
    }
    this.buf += ')';
  }

  printArg(arg: unknown, verb: string): void {
    if (arg === undefined || arg === null) {
      if (verb === 'T' || verb === 'v') this.pad('<nil>');
      else this.badVerb(verb, arg);
      return;
    }
    if (verb === 'T') {
      this.pad(this.truncateString(typeName(arg)));
      return;
    }
    if (verb === 'p') {
      this.badVerb(verb, arg);
      return;
    }
    this.printValue(arg, verb, 0);
  }

  private printValue(v: unknown, verb: string, depth: number): void {
    switch (typeof v) {
      case 'string':
        return this.fmtString(v, verb);
      case 'boolean':
        if (verb === 't' || verb === 'v') this.pad(v ? 'true' : 'false');
        else this.badVerb(verb, v);
        return;
      case 'number':
        if (Number.isSafeInteger(v)) return this.fmtInteger(v, verb);
        return this.fmtFloat(v, verb);
      case 'undefined':
        if (depth === 0) this.buf += '<invalid reflect.Value>';
        else if (verb === 'v') this.buf += '<nil>';
        else this.badVerb(verb, v);
        return;
      case 'function':
        this.badVerb(verb, v);
        return;
    }
    if (v === null) {
      this.buf += this.sharpV ? 'interface {}(nil)' : '<nil>';
      return;
    }
    if (v instanceof GoFloat) return this.fmtFloat(v.value, verb);
    if (v instanceof GoUint8) return this.fmtInteger(v.value, verb, true);
    if (v instanceof GoComplex) return this.fmtComplex(v, verb);
    if (Array.isArray(v)) return this.printSlice(v, verb, depth);
    if (isMap(v)) return this.printMap(v, verb, depth);
    this.buf += '?';
  }

  private printElement(v: unknown, verb: string, depth: number): void {
    // Elements of []interface{} and map[string]interface{} are interfaces: nil prints as <nil>.
    if (v === undefined || v === null) this.buf += this.sharpV ? 'interface {}(nil)' : '<nil>';
    else this.printValue(v, verb, depth);
  }

  private printSlice(v: readonly unknown[], verb: string, depth: number): void {
    if (this.sharpV) {
      this.buf += '[]interface {}{';
      v.forEach((e, i) => {
        if (i > 0) this.buf += ', ';
        this.printElement(e, verb, depth + 1);
      });
      this.buf += '}';
      return;
    }
    this.buf += '[';
    v.forEach((e, i) => {
      if (i > 0) this.buf += ' ';
      this.printElement(e, verb, depth + 1);
    });
    this.buf += ']';
  }

  private printMap(m: GoMap, verb: string, depth: number): void {
    this.buf += this.sharpV ? typeName(m) + '{' : 'map[';
    sortedKeys(m).forEach((k, i) => {
      if (i > 0) this.buf += this.sharpV ? ', ' : ' ';
      this.printValue(k, verb, depth + 1);
      this.buf += ':';
      this.printElement(mapGet(m, k), verb, depth + 1);
    });
    this.buf += this.sharpV ? '}' : ']';
  }

  private fmtString(s: string, verb: string): void {
    switch (verb) {
      case 'v':
        if (this.sharpV) this.fmtQ(s);
        else this.pad(this.truncateString(s));
        return;
      case 's':
        this.pad(this.truncateString(s));
        return;
      case 'x':
      case 'X':
        this.fmtSx(s, verb === 'X');
        return;
      case 'q':
        this.fmtQ(s);
        return;
      default:
        this.badVerb(verb, s);
    }
  }

  private fmtQ(s: string): void {
    s = this.truncateString(s);
    if (this.sharp && canBackquote(s)) this.pad('`' + s + '`');
    else this.pad(goQuote(s, this.plus));
  }

  private fmtSx(s: string, upper: boolean): void {
    const bytes = utf8Bytes(s);
    let length = bytes.length;
    if (this.precPresent && this.prec < length) length = this.prec;
    let width = 2 * length;
    if (width > 0) {
      if (this.space) {
        if (this.sharp) width *= 2;
        width += length - 1;
      } else if (this.sharp) width += 2;
    } else {
      if (this.widPresent) this.buf += this.padding(this.wid);
      return;
    }
    if (this.widPresent && this.wid > width && !this.minus) this.buf += this.padding(this.wid - width);
    const prefix = upper ? '0X' : '0x';
    let digits = Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('hex');
    if (upper) digits = digits.toUpperCase();
    let out: string;
    if (this.space) {
      const pairs = digits.match(/../g) ?? [];
      out = (this.sharp ? prefix : '') + pairs.join(this.sharp ? ' ' + prefix : ' ');
    } else out = (this.sharp ? prefix : '') + digits;
    this.buf += out;
    if (this.widPresent && this.wid > width && this.minus) this.buf += this.padding(this.wid - width);
  }

  private fmtInteger(n: number, verb: string, unsigned = false): void {
    switch (verb) {
      case 'v':
        if (this.sharpV && unsigned) {
          // Go's fmt0x64: %#v of an unsigned integer is hex with 0x.
          const sharp = this.sharp;
          this.sharp = true;
          this.formatInteger(n, 16, 'v', false);
          this.sharp = sharp;
          return;
        }
        return this.formatInteger(n, 10, verb, false);
      case 'd':
        return this.formatInteger(n, 10, verb, false);
      case 'b':
        return this.formatInteger(n, 2, verb, false);
      case 'o':
      case 'O':
        return this.formatInteger(n, 8, verb, false);
      case 'x':
        return this.formatInteger(n, 16, verb, false);
      case 'X':
        return this.formatInteger(n, 16, verb, true);
      case 'c': {
        const cp = n < 0 || n > 0x10ffff || (n >= 0xd800 && n <= 0xdfff) ? 0xfffd : n;
        return this.pad(String.fromCodePoint(cp));
      }
      case 'q':
        return this.pad(goQuoteRune(n < 0 ? 0xfffd : n, this.plus));
      case 'U':
        return this.fmtUnicode(n);
      case 'e':
      case 'E':
      case 'f':
      case 'F':
      case 'g':
      case 'G':
      default:
        this.badVerb(verb, unsigned ? new GoUint8(n) : n);
    }
  }

  private formatInteger(n: number, base: number, verb: string, upper: boolean): void {
    const negative = n < 0;
    const u = Math.abs(n);
    let prec = 0;
    if (this.precPresent) {
      prec = this.prec;
      if (prec === 0 && u === 0) {
        const oldZero = this.zero;
        this.zero = false;
        this.buf += this.padding(this.wid);
        this.zero = oldZero;
        return;
      }
    } else if (this.zero && this.widPresent) {
      prec = this.wid;
      if (negative || this.plus || this.space) prec--;
    }
    let digits = u.toString(base);
    if (upper) digits = digits.toUpperCase();
    if (digits.length < prec) digits = '0'.repeat(tooLargeWith(this.buf, prec - digits.length)) + digits;
    if (this.sharp) {
      if (base === 2) digits = '0b' + digits;
      else if (base === 8 && digits[0] !== '0') digits = '0' + digits;
      else if (base === 16) digits = (upper ? '0X' : '0x') + digits;
    }
    if (verb === 'O') digits = '0o' + digits;
    if (negative) digits = '-' + digits;
    else if (this.plus) digits = '+' + digits;
    else if (this.space) digits = ' ' + digits;
    const oldZero = this.zero;
    this.zero = false;
    this.pad(digits);
    this.zero = oldZero;
  }

  private fmtUnicode(n: number): void {
    let prec = 4;
    if (this.precPresent && this.prec > 4) prec = this.prec;
    // Go formats the integer as a uint64: a negative one shows its two's complement.
    const u = n < 0 ? (BigInt(n) & ((1n << 64n) - 1n)).toString(16).toUpperCase() : n.toString(16).toUpperCase();
    let s = 'U+' + u.padStart(prec, '0');
    if (this.sharp && n >= 0 && n <= 0x10ffff && isPrintRune(n)) s += " '" + String.fromCodePoint(n) + "'";
    const oldZero = this.zero;
    this.zero = false;
    this.pad(s);
    this.zero = oldZero;
  }

  private fmtFloat(x: number, verb: string): void {
    switch (verb) {
      case 'v':
        return this.formatFloatVerb(x, 'g', -1);
      case 'g':
      case 'G':
        return this.formatFloatVerb(x, verb, -1);
      case 'f':
      case 'e':
      case 'E':
        return this.formatFloatVerb(x, verb, 6);
      case 'F':
        return this.formatFloatVerb(x, 'f', 6);
      case 'b':
      case 'x':
      case 'X':
        return this.formatFloatVerb(x, verb, -1);
      default:
        this.badVerb(verb, new GoFloat(x));
    }
  }

  private formatFloatVerb(x: number, verb: string, prec: number): void {
    if (this.precPresent) prec = this.prec;
    let num = formatFloat(x, verb, prec);
    if (num[0] !== '-' && num[0] !== '+') num = '+' + num;
    if (this.space && num[0] === '+' && !this.plus) num = ' ' + num.slice(1);
    if (num[1] === 'I' || num[1] === 'N') {
      const oldZero = this.zero;
      this.zero = false;
      if (num[1] === 'N' && !this.space && !this.plus) num = num.slice(1);
      this.pad(num);
      this.zero = oldZero;
      return;
    }
    if (this.sharp && verb !== 'b') num = this.sharpFloat(num, verb, prec);
    if (this.plus || num[0] !== '+') {
      if (this.zero && this.widPresent && this.wid > num.length) {
        this.buf += num[0] + this.padding(this.wid - num.length) + num.slice(1);
        return;
      }
      this.pad(num);
      return;
    }
    this.pad(num.slice(1));
  }

  /** The `#` flag: always a decimal point, and %g keeps its trailing zeros. */
  private sharpFloat(num: string, verb: string, prec: number): string {
    let digits = 0;
    if (verb === 'v' || verb === 'g' || verb === 'G' || verb === 'x') {
      digits = prec;
      if (digits === -1) digits = 6;
    }
    let tail = '';
    let hasDecimalPoint = false;
    let sawNonzeroDigit = false;
    for (let i = 1; i < num.length; i++) {
      const c = num[i];
      if (c === '.') hasDecimalPoint = true;
      else if (c === 'p' || c === 'P' || ((c === 'e' || c === 'E') && verb !== 'x' && verb !== 'X')) {
        tail = num.slice(i);
        num = num.slice(0, i);
        break;
      } else {
        if (c !== '0') sawNonzeroDigit = true;
        if (sawNonzeroDigit) digits--;
      }
    }
    if (!hasDecimalPoint) {
      if (num.length === 2 && num[1] === '0') digits--;
      num += '.';
    }
    if (digits > 0) num += '0'.repeat(digits);
    return num + tail;
  }

  private fmtComplex(c: GoComplex, verb: string): void {
    switch (verb) {
      case 'v':
      case 'g':
      case 'G':
      case 'f':
      case 'F':
      case 'e':
      case 'E': {
        const oldPlus = this.plus;
        this.buf += '(';
        this.fmtFloat(c.real, verb);
        this.plus = true;
        this.fmtFloat(c.imag, verb);
        this.buf += 'i)';
        this.plus = oldPlus;
        return;
      }
      default:
        this.badVerb(verb, c);
    }
  }

  // ---- Printf ----

  doPrintf(format: string, a: readonly unknown[]): void {
    const end = format.length;
    let argNum = 0;
    let afterIndex = false;
    let reordered = false;
    let goodArgNum = true;
    let pos = 0;

    // Go's argNumber: an explicit `[n]` argument index.
    const argNumber = (): void => {
      if (pos >= end || format[pos] !== '[') {
        afterIndex = false;
        return;
      }
      reordered = true;
      let index = 0;
      let wid = 1;
      let ok = false;
      if (end - pos >= 3) {
        const close = format.indexOf(']', pos + 1);
        if (close >= 0) {
          const text = format.slice(pos + 1, close);
          wid = close + 1 - pos;
          if (/^[0-9]+$/.test(text)) {
            index = Number(text) - 1;
            ok = true;
          }
        }
      }
      pos += wid;
      if (ok && index >= 0 && index < a.length) {
        argNum = index;
        afterIndex = true;
        return;
      }
      goodArgNum = false;
      afterIndex = ok;
    };
    const intFromArg = (): [number, boolean] => {
      let num = 0;
      let isInt = false;
      if (argNum < a.length) {
        const arg = a[argNum];
        if (typeof arg === 'number' && Number.isSafeInteger(arg)) {
          num = arg;
          isInt = true;
          if (num < -1e6 || num > 1e6) {
            num = 0;
            isInt = false;
          }
        }
        argNum++;
      }
      return [num, isInt];
    };

    formatLoop: while (pos < end) {
      tooLargeWith(this.buf, 0); // each verb's output is bounded; together they may not be
      goodArgNum = true;
      const lasti = pos;
      while (pos < end && format[pos] !== '%') pos++;
      if (pos > lasti) this.buf += format.slice(lasti, pos);
      if (pos >= end) break;
      pos++;
      this.clearFlags();
      simple: for (; pos < end; pos++) {
        const c = format[pos];
        switch (c) {
          case '#':
            this.sharp = true;
            break;
          case '0':
            this.zero = !this.minus;
            break;
          case '+':
            this.plus = true;
            break;
          case '-':
            this.minus = true;
            this.zero = false;
            break;
          case ' ':
            this.space = true;
            break;
          default:
            if (c >= 'a' && c <= 'z' && argNum < a.length) {
              if (c === 'v') {
                this.sharpV = this.sharp;
                this.sharp = false;
                this.plusV = this.plus;
                this.plus = false;
              }
              this.printArg(a[argNum], c);
              argNum++;
              pos++;
              continue formatLoop;
            }
            break simple;
        }
      }

      argNumber();

      if (pos < end && format[pos] === '*') {
        pos++;
        [this.wid, this.widPresent] = intFromArg();
        if (!this.widPresent) this.buf += '%!(BADWIDTH)';
        if (this.wid < 0) {
          this.wid = -this.wid;
          this.minus = true;
          this.zero = false;
        }
        afterIndex = false;
      } else {
        [this.wid, this.widPresent, pos] = parseNum(format, pos, end);
        if (afterIndex && this.widPresent) goodArgNum = false;
      }

      if (pos + 1 < end && format[pos] === '.') {
        pos++;
        if (afterIndex) goodArgNum = false;
        argNumber();
        if (pos < end && format[pos] === '*') {
          pos++;
          [this.prec, this.precPresent] = intFromArg();
          if (this.prec < 0) {
            this.prec = 0;
            this.precPresent = false;
          }
          if (!this.precPresent) this.buf += '%!(BADPREC)';
          afterIndex = false;
        } else {
          [this.prec, this.precPresent, pos] = parseNum(format, pos, end);
          if (!this.precPresent) this.prec = 0;
          this.precPresent = true;
        }
      }

      if (!afterIndex) argNumber();

      if (pos >= end) {
        this.buf += '%!(NOVERB)';
        break;
      }
      const verb = String.fromCodePoint(format.codePointAt(pos)!);
      pos += verb.length;

      if (verb === '%') this.buf += '%';
      else if (!goodArgNum) this.buf += '%!' + verb + '(BADINDEX)';
      else if (argNum >= a.length) this.buf += '%!' + verb + '(MISSING)';
      else {
        if (verb === 'v') {
          this.sharpV = this.sharp;
          this.sharp = false;
          this.plusV = this.plus;
          this.plus = false;
        }
        this.printArg(a[argNum], verb);
        argNum++;
      }
    }
    tooLargeWith(this.buf, 0);

    if (!reordered && argNum < a.length) {
      this.clearFlags();
      this.buf += '%!(EXTRA ';
      for (let i = argNum; i < a.length; i++) {
        if (i > argNum) this.buf += ', ';
        const arg = a[i];
        if (arg === undefined || arg === null) this.buf += '<nil>';
        else {
          this.buf += typeName(arg) + '=';
          this.printArg(arg, 'v');
        }
      }
      this.buf += ')';
    }
  }
}

/** Throws ResultTooLarge when `buf` plus `more` characters would pass the output limit; returns `more`. */
function tooLargeWith(buf: string, more: number): number {
  if (buf.length + more > MAX_RESULT_LENGTH) throw new ResultTooLarge();
  return more;
}

/** Go's fmt.Sprint: spaces between operands when neither side is a string. */
export function sprint(args: readonly unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  const p = new Printer();
  let prevString = false;
  for (let i = 0; i < args.length; i++) {
    const isString = typeof args[i] === 'string';
    if (i > 0 && !isString && !prevString) p.buf += ' ';
    p.printArg(args[i], 'v');
    prevString = isString;
  }
  return p.buf;
}

export function sprintln(args: readonly unknown[]): string {
  const p = new Printer();
  for (let i = 0; i < args.length; i++) {
    if (i > 0) p.buf += ' ';
    p.printArg(args[i], 'v');
  }
  return p.buf + '\n';
}

export function sprintf(format: string, args: readonly unknown[]): string {
  const p = new Printer();
  p.doPrintf(format, args);
  return p.buf;
}

/** fmt.Sprint of one value, as the executor prints an action's result. */
export function printOne(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return v;
    case 'number':
      return Number.isSafeInteger(v) ? String(v) : formatFloat(v, 'g', -1);
    case 'boolean':
      return v ? 'true' : 'false';
  }
  if (v instanceof GoUint8) return String(v.value);
  return sprint([v]);
}

export { compareGoStrings };
