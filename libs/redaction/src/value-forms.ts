/** One way a secret value can appear in a log: the bytes to find, and which neighbouring base64 characters carry some of its bits. */
export interface ValueForm {
  readonly bytes: Uint8Array;
  /** The character just before the form encodes bits of the value mixed with bits of what precedes it. */
  readonly partialBefore: boolean;
  /** The character just after the form encodes bits of the value mixed with bits of what follows it. */
  readonly partialAfter: boolean;
  /**
   * Offsets of the lower-case hex letters of escapes (`%2f`, `\u00e9`) in `bytes`: encoders differ in hex case, and
   * some mix it, so these bytes also match their upper-case letter.
   */
  readonly hexLetters: readonly number[];
}

/** A value too short to match on its own (whitespace does not count: masking indentation would only mangle logs). */
export function isBelowMinLength(value: string, minLength: number): boolean {
  return codePointLength(value.trim()) < minLength;
}

/**
 * Every form of `value` the matcher looks for. The value, the value trimmed and each trimmed line of it are each
 * looked for raw; as JSON string escapes; URL percent-encoded; env-escaped when multi-line; and as the stable base64
 * characters at each of the three byte alignments, in the standard and URL-safe alphabets, plain, percent-encoded or
 * with PHP's escaped slashes. Forms shorter than `minLength` are left out.
 */
export function formsOfValue(value: string, minLength: number): ValueForm[] {
  const sources = new Set<string>([value, value.trim()]);
  for (const line of value.split(/\r\n|\r|\n/)) sources.add(line.trim());

  const texts = new Set<string>();
  const escapedTexts = new Set<string>();
  const base64Texts = new Map<string, { partialBefore: boolean; partialAfter: boolean }>();
  for (const source of sources) {
    if (codePointLength(source.trim()) < minLength) continue;
    texts.add(source);
    if (/[\r\n]/.test(source)) texts.add(source.replace(/\r/g, '\\r').replace(/\n/g, '\\n'));
    for (const form of [...jsonForms(source), ...percentForms(source)]) escapedTexts.add(form);
    for (const form of base64Forms(Buffer.from(source, 'utf8'))) {
      if (form.text.length < minLength) continue;
      const known = base64Texts.get(form.text);
      base64Texts.set(form.text, {
        partialBefore: form.partialBefore || (known?.partialBefore ?? false),
        partialAfter: form.partialAfter || (known?.partialAfter ?? false),
      });
    }
  }

  const forms: ValueForm[] = [];
  for (const text of texts) {
    if (codePointLength(text) >= minLength && !escapedTexts.has(text)) {
      forms.push({ bytes: Buffer.from(text, 'utf8'), partialBefore: false, partialAfter: false, hexLetters: [] });
    }
  }
  for (const text of escapedTexts) {
    if (codePointLength(text) < minLength) continue;
    const bytes = Buffer.from(text, 'utf8');
    forms.push({ bytes, partialBefore: false, partialAfter: false, hexLetters: escapeHexLetters(bytes) });
  }
  for (const [text, partial] of base64Texts) {
    const bytes = Buffer.from(text, 'latin1');
    forms.push({ bytes, ...partial, hexLetters: escapeHexLetters(bytes) });
  }
  return forms;
}

/** Counts code points, so a value's length reads the same whatever its script. */
export function codePointLength(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    // A high surrogate followed by a low one is a single code point.
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < text.length) {
      const next = text.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
    }
    length++;
  }
  return length;
}

/** The lower-case hex letters of every `%xx`, `%uxxxx` and `\uxxxx` escape in `bytes`. */
function escapeHexLetters(bytes: Uint8Array): number[] {
  const letters: number[] = [];
  const markHex = (from: number, count: number) => {
    for (let i = from; i < from + count; i++) if (bytes[i] >= 0x61 && bytes[i] <= 0x66) letters.push(i);
  };
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] === 0x25 && isHexRun(bytes, i + 1, 2)) markHex(i + 1, 2);
    else if (bytes[i] === 0x25 && bytes[i + 1] === 0x75 && isHexRun(bytes, i + 2, 4)) markHex(i + 2, 4);
    else if (bytes[i] === 0x5c && bytes[i + 1] === 0x75 && isHexRun(bytes, i + 2, 4)) markHex(i + 2, 4);
  }
  return letters;
}

function isHexRun(bytes: Uint8Array, from: number, count: number): boolean {
  if (from + count > bytes.length) return false;
  for (let i = from; i < from + count; i++) {
    const byte = bytes[i];
    if (!((byte >= 0x30 && byte <= 0x39) || (byte >= 0x61 && byte <= 0x66))) return false;
  }
  return true;
}

interface JsonStyle {
  /** UTF-16 units written as `\uxxxx` rather than as themselves or a short escape. */
  readonly asUnicode: (unit: number) => boolean;
  readonly slash: string;
}

const NONE = (): boolean => false;
const NON_ASCII = (unit: number): boolean => unit > 0x7f;
const GO_HTML_SAFE = new Set([0x3c, 0x3e, 0x26, 0x2028, 0x2029]);
const DOTNET_ESCAPED = new Set([0x22, 0x26, 0x27, 0x2b, 0x3c, 0x3e, 0x60]);

/** JSON string escapers in common use, as far as they differ. Hex is written lower-case; either case matches. */
const JSON_STYLES: readonly JsonStyle[] = [
  { asUnicode: NONE, slash: '/' }, // JSON.stringify, Python with ensure_ascii=False, Rust serde_json
  { asUnicode: (unit) => GO_HTML_SAFE.has(unit), slash: '/' }, // Go encoding/json
  { asUnicode: NON_ASCII, slash: '/' }, // Python json.dumps, Jackson ESCAPE_NON_ASCII
  { asUnicode: NON_ASCII, slash: '\\/' }, // PHP json_encode
  { asUnicode: NONE, slash: '\\/' }, // PHP json_encode with JSON_UNESCAPED_UNICODE
  { asUnicode: NONE, slash: '\\u002f' }, // encoders that write every solidus as an escape
  // .NET System.Text.Json's default encoder: HTML-sensitive characters, '+', '`' and everything outside ASCII.
  { asUnicode: (unit) => DOTNET_ESCAPED.has(unit) || unit >= 0x7f, slash: '/' },
];

const SHORT_ESCAPES: Readonly<Record<number, string>> = {
  0x08: '\\b',
  0x09: '\\t',
  0x0a: '\\n',
  0x0c: '\\f',
  0x0d: '\\r',
  0x22: '\\"',
  0x5c: '\\\\',
};

/** JSON string escapes as common encoders write them, without the quotes. */
function jsonForms(text: string): string[] {
  const forms = JSON_STYLES.map((style) => jsonEscape(text, style));
  // A JSON document carried as a string field of another, as structured loggers often do.
  forms.push(jsonEscape(forms[0], JSON_STYLES[0]));
  return forms;
}

function jsonEscape(text: string, style: JsonStyle): string {
  let escaped = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    const isSurrogate = unit >= 0xd800 && unit <= 0xdfff;
    const paired = isSurrogate && isSurrogatePairAt(text, unit <= 0xdbff ? i : i - 1);
    if (style.asUnicode(unit) || (isSurrogate && !paired)) escaped += unicodeEscape(unit);
    else if (SHORT_ESCAPES[unit] !== undefined) escaped += SHORT_ESCAPES[unit];
    else if (unit < 0x20) escaped += unicodeEscape(unit);
    else if (unit === 0x2f) escaped += style.slash;
    else escaped += text[i];
  }
  return escaped;
}

function isSurrogatePairAt(text: string, at: number): boolean {
  if (at < 0 || at + 1 >= text.length) return false;
  const high = text.charCodeAt(at);
  const low = text.charCodeAt(at + 1);
  return high >= 0xd800 && high <= 0xdbff && low >= 0xdc00 && low <= 0xdfff;
}

function unicodeEscape(unit: number): string {
  return `\\u${unit.toString(16).padStart(4, '0')}`;
}

/** Characters left as they are, beyond ASCII letters and digits, by the percent-encoders in common use. */
const PERCENT_STYLES: readonly { readonly unescaped: string; readonly spaceAsPlus: boolean }[] = [
  { unescaped: "-_.!~*'()", spaceAsPlus: false }, // JavaScript encodeURIComponent
  { unescaped: "-_.!~*'();/?:@&=+$,#", spaceAsPlus: false }, // JavaScript encodeURI
  { unescaped: '-_.~', spaceAsPlus: false }, // RFC 3986 unreserved only (Python quote(safe=''), Java, Rust)
  { unescaped: '-_.~/', spaceAsPlus: false }, // Python urllib.parse.quote's default, safe='/'
  { unescaped: '-_.~$&+:=@', spaceAsPlus: false }, // Go url.PathEscape
  { unescaped: '*-._', spaceAsPlus: true }, // WHATWG form encoding (URLSearchParams, HTML forms), Java URLEncoder
  { unescaped: '-_.~', spaceAsPlus: true }, // Go url.QueryEscape, Python quote_plus
  { unescaped: '-_.', spaceAsPlus: true }, // PHP urlencode
];

/** Percent-encodings in lower-case hex; either case matches. */
function percentForms(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  return [...PERCENT_STYLES.map((style) => percentEncode(bytes, style)), legacyEscape(text)];
}

/** JavaScript's legacy `escape()`: UTF-16 units, `%xx` below 0x100 and `%uxxxx` above. */
function legacyEscape(text: string): string {
  let escaped = '';
  for (let i = 0; i < text.length; i++) {
    const unit = text.charCodeAt(i);
    if ((unit < 0x80 && isAsciiAlphanumeric(unit)) || '@*_+-./'.includes(text[i])) escaped += text[i];
    else if (unit < 0x100) escaped += `%${unit.toString(16).padStart(2, '0')}`;
    else escaped += `%u${unit.toString(16).padStart(4, '0')}`;
  }
  return escaped;
}

function percentEncode(
  bytes: Uint8Array,
  style: { readonly unescaped: string; readonly spaceAsPlus: boolean },
): string {
  let encoded = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (isAsciiAlphanumeric(byte) || (byte < 0x80 && style.unescaped.includes(char))) encoded += char;
    else if (byte === 0x20 && style.spaceAsPlus) encoded += '+';
    else encoded += `%${byte.toString(16).padStart(2, '0')}`;
  }
  return encoded;
}

function isAsciiAlphanumeric(byte: number): boolean {
  return (byte >= 0x30 && byte <= 0x39) || (byte >= 0x41 && byte <= 0x5a) || (byte >= 0x61 && byte <= 0x7a);
}

interface Base64Form {
  readonly text: string;
  readonly partialBefore: boolean;
  readonly partialAfter: boolean;
}

/**
 * The base64 characters that depend only on the value's bytes, wherever it sits inside a larger blob: with 0, 1 or
 * 2 bytes before it in its 3-byte group, in the standard and URL-safe alphabets. The characters either side that
 * mix in neighbouring bits (and any `=` padding) are masked by the matcher when it finds the core. A standard blob
 * also travels in URLs (`+` and `/` percent-encoded, or `+` alone as Python's quote does) and in PHP's JSON (`\/`).
 */
function base64Forms(bytes: Uint8Array): Base64Form[] {
  const forms: Base64Form[] = [];
  for (let lead = 0; lead < 3; lead++) {
    const encoded = Buffer.concat([Buffer.alloc(lead), bytes]).toString('base64');
    const firstBit = 8 * lead;
    const endBit = 8 * (lead + bytes.length);
    const core = encoded.slice(Math.ceil(firstBit / 6), Math.floor(endBit / 6));
    const partial = { partialBefore: firstBit % 6 !== 0, partialAfter: endBit % 6 !== 0 };
    for (const text of [
      core,
      core.replace(/\+/g, '-').replace(/\//g, '_'),
      core.replace(/\+/g, '%2b').replace(/\//g, '%2f'),
      core.replace(/\+/g, '%2b'),
      core.replace(/\//g, '\\/'),
    ]) {
      forms.push({ text, ...partial });
    }
  }
  return forms;
}
