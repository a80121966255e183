// The functions a template may call: Go's builtins (funcs.go) and the Helm/Sprig subset, each with its Go signature.
import {
  MAX_RESULT_LENGTH,
  ResultTooLarge,
  goQuote,
  isPrintRune,
  printOne,
  sprint,
  sprintf,
  sprintln,
  formatFloat,
} from './fmt';
import {
  GoComplex,
  GoFloat,
  GoUint8,
  InterfaceValue,
  Kind,
  basicKind,
  byteLength,
  compareGoStrings,
  floatValue,
  hasNonAscii,
  indirectInterface,
  isMap,
  isTrue,
  mapGet,
  mapHas,
  mapSize,
  mapZero,
  sortedKeys,
  typeName,
  utf8Bytes,
} from './values';

/**
 * A parameter's Go type, which decides how an argument is checked:
 * `value` = reflect.Value (builtins get anything), `any` = interface{}, the rest are concrete.
 */
export type ParamType = 'value' | 'any' | 'string' | 'int';

export const PARAM_TYPE_NAMES: Record<ParamType, string> = {
  value: 'reflect.Value',
  any: 'interface {}',
  string: 'string',
  int: 'int',
};

export interface TemplateFunction {
  /** Parameter types; when `variadic`, the last one is the element type of the `...` parameter. */
  readonly params: readonly ParamType[];
  readonly variadic: boolean;
  /** Receives the checked arguments; throws FunctionError for Go's `error calling NAME: …`. */
  readonly call: (args: unknown[]) => unknown;
}

/** How Go formats a value into a message: `%s` or `%v`. */
export type ValueVerb = '%s' | '%v';

/** A value from the data inside an error message: the executor shows it through its `describeValue` option. */
export class DataText {
  constructor(
    readonly value: unknown,
    readonly verb: ValueVerb,
  ) {}
}

/** An error message as fixed text and values from the data. */
export type ErrorParts = readonly (string | DataText)[];

/**
 * An error a function returns (or a panic it raises), reported as `error calling NAME: message`. `parts` keeps
 * the values it quotes apart from its fixed wording, so no value reaches a message unless the caller asks.
 */
export class FunctionError extends Error {
  readonly parts: ErrorParts;

  constructor(message: string | ErrorParts) {
    const parts = typeof message === 'string' ? [message] : message;
    super(parts.map((part) => (typeof part === 'string' ? part : '<value>')).join(''));
    this.parts = parts;
  }
}

const fail = (message: string): never => {
  throw new FunctionError(message);
};

function intValue(v: unknown): number | undefined {
  if (v instanceof GoUint8) return v.value;
  return typeof v === 'number' && Number.isSafeInteger(v) ? v : undefined;
}

/**
 * The default `describeValue`: Go prints the value, but strings (and containers, which may hold strings) can
 * be secret values, which never appear in an error (ARCHITECTURE.md §2), so they are named by type.
 */
export function redactedValueText(v: unknown, verb: ValueVerb): string {
  if (typeof v === 'string' || v instanceof GoUint8 || Array.isArray(v) || isMap(v)) return `<redacted ${typeName(v)}>`;
  return sprintf(verb, [v]);
}

/** A value exactly as Go prints it into a message: for tests against Go, never for errors that reach a caller. */
export function goValueText(v: unknown, verb: ValueVerb): string {
  return sprintf(verb, [v]);
}

/** Joins an error's fixed text and its values, each value shown by `describe`. */
export function errorText(parts: ErrorParts, describe: (v: unknown, verb: ValueVerb) => string): string {
  let text = '';
  for (const part of parts) text += typeof part === 'string' ? part : describe(part.value, part.verb);
  return text;
}

// ---- comparisons (funcs.go eq/lt) ----

const BAD_COMPARISON_TYPE = 'invalid type for comparison';
const BAD_COMPARISON = 'incompatible types for comparison';

function isNilValue(v: unknown): boolean {
  return v === undefined || v === null;
}

function comparable(v: unknown): boolean {
  return !(Array.isArray(v) || isMap(v) || typeof v === 'function');
}

function eq(arg1: unknown, ...arg2: unknown[]): boolean {
  arg1 = indirectInterface(arg1);
  if (arg2.length === 0) fail('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (let arg of arg2) {
    arg = indirectInterface(arg);
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if ((k1 === Kind.Int && k2 === Kind.Uint) || (k1 === Kind.Uint && k2 === Kind.Int)) {
        truth = intValue(arg1) === intValue(arg);
      } else if (arg1 !== undefined && arg !== undefined) fail(BAD_COMPARISON);
    } else {
      switch (k1) {
        case Kind.Bool:
        case Kind.String:
        case Kind.Int:
          truth = arg1 === arg;
          break;
        case Kind.Uint:
          truth = intValue(arg1) === intValue(arg);
          break;
        case Kind.Float:
          truth = floatValue(arg1) === floatValue(arg);
          break;
        case Kind.Complex: {
          const [a, b] = [arg1 as GoComplex, arg as GoComplex];
          truth = a.real === b.real && a.imag === b.imag;
          break;
        }
        default: {
          const differentKinds = kindName(arg1) !== kindName(arg);
          if (differentKinds && arg1 !== undefined && arg !== undefined) {
            throw new FunctionError([
              'non-comparable types ',
              new DataText(arg1, '%s'),
              `: ${typeName(arg1)}, ${typeName(arg)}: `,
              new DataText(arg, '%v'),
            ]);
          }
          if (isNilValue(arg1) || isNilValue(arg)) truth = isNilValue(arg) === isNilValue(arg1);
          else {
            if (!comparable(arg)) {
              throw new FunctionError(['non-comparable type ', new DataText(arg, '%s'), `: ${typeName(arg)}`]);
            }
            truth = arg1 === arg;
          }
        }
      }
    }
    if (truth) return true;
  }
  return false;
}

function kindName(v: unknown): string {
  if (v === undefined) return 'invalid';
  if (Array.isArray(v)) return 'slice';
  if (isMap(v)) return 'map';
  return typeof v;
}

function lt(arg1: unknown, arg2: unknown): boolean {
  arg1 = indirectInterface(arg1);
  const k1 = basicKind(arg1);
  if (k1 === Kind.Invalid || k1 === Kind.Other) fail(BAD_COMPARISON_TYPE);
  arg2 = indirectInterface(arg2);
  const k2 = basicKind(arg2);
  if (k2 === Kind.Invalid || k2 === Kind.Other) fail(BAD_COMPARISON_TYPE);
  if (k1 !== k2) {
    if ((k1 === Kind.Int && k2 === Kind.Uint) || (k1 === Kind.Uint && k2 === Kind.Int)) {
      return intValue(arg1)! < intValue(arg2)!;
    }
    fail(BAD_COMPARISON);
  }
  switch (k1) {
    case Kind.Bool:
    case Kind.Complex:
      return fail(BAD_COMPARISON_TYPE);
    case Kind.Float:
      return floatValue(arg1) < floatValue(arg2);
    case Kind.Int:
    case Kind.Uint:
      return intValue(arg1)! < intValue(arg2)!;
    default:
      return compareGoStrings(arg1 as string, arg2 as string) < 0;
  }
}

function le(arg1: unknown, arg2: unknown): boolean {
  return lt(arg1, arg2) || eq(arg1, arg2);
}

// ---- index, slice, len, call ----

function indexArg(index: unknown, cap: number): number {
  if (index instanceof InterfaceValue) fail('cannot index slice/array with type interface {}');
  const x = intValue(index);
  if (x === undefined) {
    if (index === undefined) fail('cannot index slice/array with nil');
    fail(`cannot index slice/array with type ${typeName(index)}`);
  }
  if (x! < 0 || x! > cap) fail(`index out of range: ${x}`);
  return x!;
}

function index(item: unknown, ...indexes: unknown[]): unknown {
  item = indirectInterface(item);
  if (item === undefined) fail('index of untyped nil');
  for (let ix of indexes) {
    ix = indirectInterface(ix);
    if (item === null) fail('index of nil pointer');
    if (typeof item === 'string') {
      const bytes = hasNonAscii(item) ? utf8Bytes(item) : null;
      const len = bytes ? bytes.length : item.length;
      const x = indexArg(ix, len);
      if (x >= len) fail('reflect: string index out of range');
      item = new GoUint8(bytes ? bytes[x] : item.charCodeAt(x));
    } else if (Array.isArray(item)) {
      const x = indexArg(ix, item.length);
      if (x >= item.length) fail('reflect: slice index out of range');
      item = item[x];
    } else if (isMap(item)) {
      if (ix === undefined) fail('value is nil; should be of type string');
      if (typeof ix !== 'string') fail(`value has type ${typeName(ix)}; should be string`);
      // Absent: the zero value of the element type ("" for map[string]string, nil for interface{}).
      item = mapHas(item, ix as string) ? mapGet(item, ix as string) : mapZero(item);
      if (item === undefined) item = null;
    } else fail(`can't index item of type ${typeName(item)}`);
  }
  return item;
}

function slice(item: unknown, ...indexes: unknown[]): unknown {
  item = indirectInterface(item);
  if (item === undefined) fail('slice of untyped nil');
  if (indexes.length > 3) fail(`too many slice indexes: ${indexes.length}`);
  let cap: number;
  let len: number;
  let bytes: Uint8Array | null = null;
  if (typeof item === 'string') {
    if (indexes.length === 3) fail('cannot 3-index slice a string');
    bytes = hasNonAscii(item) ? utf8Bytes(item) : null;
    cap = len = bytes ? bytes.length : item.length;
  } else if (Array.isArray(item)) cap = len = item.length;
  else return fail(`can't slice item of type ${typeName(item)}`);
  const idx = [0, len, 0];
  indexes.forEach((ix, i) => (idx[i] = indexArg(ix, cap)));
  if (idx[0] > idx[1]) fail(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1] > idx[2]) fail(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  if (typeof item === 'string') {
    return bytes ? Buffer.from(bytes.subarray(idx[0], idx[1])).toString('utf8') : item.slice(idx[0], idx[1]);
  }
  return (item as unknown[]).slice(idx[0], idx[1]);
}

function length(item: unknown): number {
  if (item === null) fail('len of nil pointer');
  if (item === undefined) fail('reflect: call of reflect.Value.Type on zero Value');
  if (typeof item === 'string') return byteLength(item);
  if (Array.isArray(item)) return item.length;
  if (isMap(item)) return mapSize(item);
  return fail(`len of type ${typeName(item)}`);
}

function call(fn: unknown, ...args: unknown[]): unknown {
  fn = indirectInterface(fn);
  if (fn === undefined) fail('call of nil');
  if (typeof fn !== 'function') fail(`non-function of type ${typeName(fn)}`);
  return (fn as (...a: unknown[]) => unknown)(...args.map(indirectInterface));
}

// ---- escapers ----

/** Go's evalArgs: one string as is, otherwise fmt.Sprint with nil shown as <no value>. */
function evalArgs(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === undefined || a === null ? '<no value>' : a)));
}

const htmlEscapes: Record<string, string> = {
  '\0': '\uFFFD',
  '"': '&#34;',
  "'": '&#39;',
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
};

export function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => htmlEscapes[c]);
}

const jsEscapes: Record<string, string> = {
  '\\': '\\\\',
  "'": "\\'",
  '"': '\\"',
  '<': '\\u003C',
  '>': '\\u003E',
  '&': '\\u0026',
  '=': '\\u003D',
};

export function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (jsEscapes[ch] !== undefined) out += jsEscapes[ch];
    else if (r < 0x20) out += '\\u00' + r.toString(16).toUpperCase().padStart(2, '0');
    else if (r < 0x80 || isPrintRune(r)) out += ch;
    else out += '\\u' + r.toString(16).toUpperCase().padStart(4, '0');
  }
  return out;
}

/** Go's url.QueryEscape. */
export function queryEscape(s: string): string {
  try {
    // encodeURIComponent escapes the same bytes the same way, apart from these five and the space.
    return encodeURIComponent(s).replace(/[!'()*]|%20/g, (c) => QUERY_ESCAPES.get(c)!);
  } catch (e) {
    if (!(e instanceof URIError)) throw e; // a lone surrogate: escaped below as the UTF-8 Go would see
  }
  let out = '';
  for (const b of utf8Bytes(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (b === 0x20) out += '+';
    else out += '%' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}

const QUERY_ESCAPES: ReadonlyMap<string, string> = new Map([
  ['!', '%21'],
  ["'", '%27'],
  ['(', '%28'],
  [')', '%29'],
  ['*', '%2A'],
  ['%20', '+'],
]);

// ---- Helm/Sprig ----

/** Sprig's `empty`: the zero value of its type, or nil. */
function empty(v: unknown): boolean {
  return !isTrue(v);
}

function strval(v: unknown): string {
  return typeof v === 'string' ? v : sprintf('%v', [v]);
}

function base64Decode(s: string): string {
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  const src = utf8Bytes(s);
  const out: number[] = [];
  let si = 0;
  const corrupt = (at: number): never => {
    throw new FunctionError(`illegal base64 data at input byte ${at}`);
  };
  const isNewline = (b: number): boolean => b === 0x0a || b === 0x0d;
  while (si < src.length) {
    const dbuf = [0, 0, 0, 0];
    let dlen = 4;
    let trailing = -1;
    for (let j = 0; j < 4; j++) {
      if (src.length === si) {
        if (j === 0) return Buffer.from(out).toString('utf8');
        corrupt(si - j);
      }
      const inByte = src[si++];
      const v = inByte < 0x80 ? alphabet.indexOf(String.fromCharCode(inByte)) : -1;
      if (v >= 0) {
        dbuf[j] = v;
        continue;
      }
      if (isNewline(inByte)) {
        j--;
        continue;
      }
      if (inByte !== 0x3d) corrupt(si - 1);
      if (j === 0 || j === 1) corrupt(si - 1);
      if (j === 2) {
        while (si < src.length && isNewline(src[si])) si++;
        if (si === src.length) corrupt(src.length);
        if (src[si] !== 0x3d) corrupt(si - 1);
        si++;
      }
      while (si < src.length && isNewline(src[si])) si++;
      if (si < src.length) trailing = si;
      dlen = j;
      break;
    }
    const val = (dbuf[0] << 18) | (dbuf[1] << 12) | (dbuf[2] << 6) | dbuf[3];
    const bytes = [(val >> 16) & 0xff, (val >> 8) & 0xff, val & 0xff];
    out.push(...bytes.slice(0, dlen - 1));
    if (trailing >= 0) corrupt(trailing);
  }
  return Buffer.from(out).toString('utf8');
}

const goSpace = /[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]/;

/**
 * Go's strings.TrimSpace. A scan from each end, not a regular expression: `[space]+$` backtracks from every
 * space inside a string, quadratic in a long run of them.
 */
function trimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && goSpace.test(s[start])) start++;
  while (end > start && goSpace.test(s[end - 1])) end--;
  return s.slice(start, end);
}

/** Go's unicode simple case mapping: a rune maps to one rune, or stays. */
function mapCase(s: string, upper: boolean): string {
  if (!hasNonAscii(s)) return upper ? s.toUpperCase() : s.toLowerCase();
  let out = '';
  for (const ch of s) {
    if (!upper && ch === '\u0130') {
      out += 'i';
      continue;
    }
    const mapped = upper ? ch.toUpperCase() : ch.toLowerCase();
    const oneRune = mapped.length === 1 || (mapped.length === 2 && mapped.codePointAt(0)! > 0xffff);
    out += oneRune ? mapped : ch;
  }
  return out;
}

/** What encoding/json escapes: controls, `"`, `\\`, `<>&`, U+2028/9, and surrogates (Go sees them as invalid). */
// eslint-disable-next-line no-control-regex -- control characters are what JSON escapes
const JSON_SPECIAL = /[\u0000-\u001f"\\<>&\u2028\u2029\ud800-\udfff]/;

function jsonString(s: string): string {
  if (!JSON_SPECIAL.test(s)) return '"' + s + '"';
  let out = '"';
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (c === 0x22) out += '\\"';
    else if (c === 0x5c) out += '\\\\';
    else if (c === 0x0a) out += '\\n';
    else if (c === 0x0d) out += '\\r';
    else if (c === 0x09) out += '\\t';
    else if (c < 0x20 || c === 0x3c || c === 0x3e || c === 0x26) out += '\\u00' + c.toString(16).padStart(2, '0');
    else if (c === 0x2028 || c === 0x2029) out += '\\u' + c.toString(16);
    else if (c >= 0xd800 && c <= 0xdfff) out += '\\ufffd';
    else out += ch;
  }
  return out + '"';
}

class UnsupportedJson extends Error {}

/** Go's encoding/json Marshal for the value kinds templates hold. */
function toJson(v: unknown): string {
  if (v === undefined || v === null) return 'null';
  switch (typeof v) {
    case 'string':
      return jsonString(v);
    case 'boolean':
      return v ? 'true' : 'false';
    case 'number':
      if (Number.isSafeInteger(v)) return String(v);
      return jsonFloat(v);
    case 'function':
      throw new UnsupportedJson();
  }
  if (v instanceof GoUint8) return String(v.value);
  if (v instanceof GoFloat) return jsonFloat(v.value);
  if (v instanceof GoComplex) throw new UnsupportedJson();
  if (Array.isArray(v)) return '[' + v.map(toJson).join(',') + ']';
  if (isMap(v))
    return (
      '{' +
      sortedKeys(v)
        .map((k) => jsonString(k) + ':' + toJson(mapGet(v, k)))
        .join(',') +
      '}'
    );
  throw new UnsupportedJson();
}

function jsonFloat(f: number): string {
  if (!Number.isFinite(f)) throw new UnsupportedJson();
  const abs = Math.abs(f);
  const useExp = abs !== 0 && (abs < 1e-6 || abs >= 1e21);
  let s = formatFloat(f, useExp ? 'e' : 'f', -1);
  if (useExp) s = s.replace(/e-0(\d)$/, 'e-$1');
  return s;
}

function indent(spaces: number, v: string): string {
  if (spaces < 0) fail('strings: negative Repeat count'); // Go's strings.Repeat panics
  const lines = v.split('\n');
  if (spaces * lines.length + v.length > MAX_RESULT_LENGTH) throw new ResultTooLarge();
  const pad = ' '.repeat(spaces);
  return pad + lines.join('\n' + pad);
}

const fn = (params: ParamType[], call: (args: unknown[]) => unknown, variadic = false): TemplateFunction => ({
  params,
  variadic,
  call,
});

/** Names of the builtins whose arguments short-circuit (handled by the executor). */
export const SHORT_CIRCUIT = new Set(['and', 'or']);

export const FUNCTIONS: ReadonlyMap<string, TemplateFunction> = new Map<string, TemplateFunction>([
  // Go builtins
  ['and', fn(['value', 'value'], () => undefined, true)],
  ['or', fn(['value', 'value'], () => undefined, true)],
  ['call', fn(['value', 'value'], ([f, ...a]) => call(f, ...a), true)],
  ['html', fn(['any'], (a) => htmlEscape(evalArgs(a)), true)],
  ['index', fn(['value', 'value'], ([item, ...ix]) => index(item, ...ix), true)],
  ['slice', fn(['value', 'value'], ([item, ...ix]) => slice(item, ...ix), true)],
  ['js', fn(['any'], (a) => jsEscape(evalArgs(a)), true)],
  ['len', fn(['value'], ([item]) => length(item))],
  ['not', fn(['value'], ([v]) => !isTrue(indirectInterface(v)))],
  ['print', fn(['any'], (a) => sprint(a), true)],
  ['printf', fn(['string', 'any'], ([format, ...a]) => sprintf(format as string, a), true)],
  ['println', fn(['any'], (a) => sprintln(a), true)],
  ['urlquery', fn(['any'], (a) => queryEscape(evalArgs(a)), true)],
  ['eq', fn(['value', 'value'], ([a, ...b]) => eq(a, ...b), true)],
  ['ge', fn(['value', 'value'], ([a, b]) => !lt(a, b))],
  ['gt', fn(['value', 'value'], ([a, b]) => !le(a, b))],
  ['le', fn(['value', 'value'], ([a, b]) => le(a, b))],
  ['lt', fn(['value', 'value'], ([a, b]) => lt(a, b))],
  ['ne', fn(['value', 'value'], ([a, b]) => !eq(a, b))],
  // Helm/Sprig
  ['default', fn(['any', 'any'], ([d, ...given]) => (given.length === 0 || empty(given[0]) ? d : given[0]), true)],
  [
    'quote',
    fn(
      ['any'],
      (a) =>
        a
          .filter((s) => !isNilValue(s))
          .map((s) => goQuote(strval(s)))
          .join(' '),
      true,
    ),
  ],
  [
    'squote',
    fn(
      ['any'],
      (a) =>
        a
          .filter((s) => !isNilValue(s))
          .map((s) => `'${strval(s)}'`)
          .join(' '),
      true,
    ),
  ],
  ['b64enc', fn(['string'], ([v]) => Buffer.from(v as string, 'utf8').toString('base64'))],
  [
    'b64dec',
    fn(['string'], ([v]) => {
      try {
        return base64Decode(v as string);
      } catch (e) {
        if (e instanceof FunctionError) return e.message;
        throw e;
      }
    }),
  ],
  ['indent', fn(['int', 'string'], ([n, v]) => indent(n as number, v as string))],
  ['nindent', fn(['int', 'string'], ([n, v]) => '\n' + indent(n as number, v as string))],
  [
    'toJson',
    fn(['any'], ([v]) => {
      try {
        return toJson(v);
      } catch (e) {
        if (e instanceof UnsupportedJson) return '';
        throw e;
      }
    }),
  ],
  ['trim', fn(['string'], ([v]) => trimSpace(v as string))],
  ['upper', fn(['string'], ([v]) => mapCase(v as string, true))],
  ['lower', fn(['string'], ([v]) => mapCase(v as string, false))],
  [
    'required',
    fn(['string', 'any'], ([warn, val]) => {
      if (val === undefined || val === null || val === '') fail(warn as string);
      return val;
    }),
  ],
]);

export const FUNCTION_NAMES: ReadonlySet<string> = new Set(FUNCTIONS.keys());

/** Functions whose argument or piped input is checked, so a missing key there is empty (ARCHITECTURE.md §7). */
export const CHECKS_PRESENCE = new Set(['default', 'required']);
/** Index of the argument a presence check tests: Sprig's `default d given…` tests given[0], `required warn val` val. */
export const CHECKED_ARGUMENT = 1;
/** Functions that keep a condition a condition: a missing key in their arguments is empty inside if/with. */
export const CONDITION_OPERATORS = new Set(['and', 'or', 'not', 'eq', 'ne', 'lt', 'le', 'gt', 'ge']);

export { printOne };
