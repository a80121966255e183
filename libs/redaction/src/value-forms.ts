/** One way a secret value can appear in a log: the bytes to find, and which neighbouring base64 characters carry some of its bits. */
export interface ValueForm {
  readonly bytes: Uint8Array;
  /** The character just before the form encodes bits of the value mixed with bits of what precedes it. */
  readonly partialBefore: boolean;
  /** The character just after the form encodes bits of the value mixed with bits of what follows it. */
  readonly partialAfter: boolean;
}

/** A value too short to match on its own (whitespace does not count: masking indentation would only mangle logs). */
export function isBelowMinLength(value: string, minLength: number): boolean {
  return codePointLength(value.trim()) < minLength;
}

/**
 * Every form of `value` the matcher looks for: the raw text; each trimmed line; JSON string escapes; URL
 * percent-encodings; env newline escaping; and the stable base64 characters at each of the three byte
 * alignments, in the standard and URL-safe alphabets. Forms shorter than `minLength` are left out.
 */
export function formsOfValue(value: string, minLength: number): ValueForm[] {
  const texts = new Set<string>([value, ...jsonForms(value), ...percentForms(value)]);
  if (/[\r\n]/.test(value)) texts.add(value.replace(/\r/g, '\\r').replace(/\n/g, '\\n'));
  for (const line of value.split(/\r\n|\r|\n/)) {
    const trimmed = line.trim();
    if (codePointLength(trimmed) < minLength) continue;
    texts.add(trimmed);
    for (const form of jsonForms(trimmed)) texts.add(form);
  }

  const forms: ValueForm[] = [];
  for (const text of texts) {
    if (codePointLength(text) >= minLength) {
      forms.push({ bytes: Buffer.from(text, 'utf8'), partialBefore: false, partialAfter: false });
    }
  }
  const seenBase64 = new Set<string>();
  for (const form of base64Forms(Buffer.from(value, 'utf8'))) {
    if (form.text.length < minLength || seenBase64.has(form.text)) continue;
    seenBase64.add(form.text);
    forms.push({
      bytes: Buffer.from(form.text, 'latin1'),
      partialBefore: form.partialBefore,
      partialAfter: form.partialAfter,
    });
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

/** JSON string escapes as common encoders write them, without the quotes. */
function jsonForms(text: string): string[] {
  const standard = JSON.stringify(text).slice(1, -1);
  return [
    standard,
    // Go's encoding/json escapes HTML-significant characters and the JavaScript line separators.
    standard.replace(/[<>&\u2028\u2029]/g, (c) => unicodeEscape(c, 'lower')),
    // ASCII-only encoders (Python's ensure_ascii, Jackson's ESCAPE_NON_ASCII) escape every UTF-16 unit above 0x7f.
    standard.replace(/[\u0080-\uffff]/g, (c) => unicodeEscape(c, 'lower')),
    standard.replace(/[\u0080-\uffff]/g, (c) => unicodeEscape(c, 'upper')),
    // PHP's json_encode escapes slashes.
    standard.replace(/\//g, '\\/'),
    // A JSON document carried as a string field of another, as structured loggers often do.
    JSON.stringify(standard).slice(1, -1),
  ];
}

function unicodeEscape(unit: string, hexCase: 'lower' | 'upper'): string {
  const hex = unit.charCodeAt(0).toString(16).padStart(4, '0');
  return `\\u${hexCase === 'lower' ? hex : hex.toUpperCase()}`;
}

/** Characters left as they are, beyond ASCII letters and digits, by the percent-encoders in common use. */
const PERCENT_STYLES: readonly { readonly unescaped: string; readonly spaceAsPlus: boolean }[] = [
  { unescaped: "-_.!~*'()", spaceAsPlus: false }, // JavaScript encodeURIComponent
  { unescaped: '-_.~', spaceAsPlus: false }, // RFC 3986 unreserved only (Python quote(safe=''), Java, Rust)
  { unescaped: '*-._', spaceAsPlus: true }, // WHATWG form encoding (URLSearchParams, HTML forms)
  { unescaped: '-_.~', spaceAsPlus: true }, // Go url.QueryEscape, Python quote_plus
];

function percentForms(text: string): string[] {
  const bytes = Buffer.from(text, 'utf8');
  return PERCENT_STYLES.flatMap((style) => [
    percentEncode(bytes, style, 'upper'),
    percentEncode(bytes, style, 'lower'),
  ]);
}

function percentEncode(
  bytes: Uint8Array,
  style: { readonly unescaped: string; readonly spaceAsPlus: boolean },
  hexCase: 'lower' | 'upper',
): string {
  let encoded = '';
  for (const byte of bytes) {
    const char = String.fromCharCode(byte);
    if (isAsciiAlphanumeric(byte) || (byte < 0x80 && style.unescaped.includes(char))) encoded += char;
    else if (byte === 0x20 && style.spaceAsPlus) encoded += '+';
    else {
      const hex = byte.toString(16).padStart(2, '0');
      encoded += `%${hexCase === 'lower' ? hex : hex.toUpperCase()}`;
    }
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
 * mix in neighbouring bits (and any `=` padding) are masked by the matcher when it finds the core.
 */
function base64Forms(bytes: Uint8Array): Base64Form[] {
  const forms: Base64Form[] = [];
  for (let lead = 0; lead < 3; lead++) {
    const encoded = Buffer.concat([Buffer.alloc(lead), bytes]).toString('base64');
    const firstBit = 8 * lead;
    const endBit = 8 * (lead + bytes.length);
    const core = encoded.slice(Math.ceil(firstBit / 6), Math.floor(endBit / 6));
    const partialBefore = firstBit % 6 !== 0;
    const partialAfter = endBit % 6 !== 0;
    forms.push({ text: core, partialBefore, partialAfter });
    forms.push({ text: core.replace(/\+/g, '-').replace(/\//g, '_'), partialBefore, partialAfter });
  }
  return forms;
}
