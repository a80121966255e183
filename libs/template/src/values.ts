/**
 * How Go values are represented while a template executes.
 *
 * - `undefined` is Go's invalid reflect.Value ("no value"); `null` is a nil `interface{}` (a JSON
 *   null, or a missing key read where missing keys are allowed).
 * - strings, booleans as themselves; a JS number is an `int` when integral, else a `float64`.
 * - `GoFloat` boxes a float64 that must keep its type although integral (the literal `1.0`).
 * - arrays are `[]interface {}`, plain objects and `Map`s are `map[string]interface {}`, a `GoStringMap` is
 *   `map[string]string`.
 */
export type Value = unknown;

export class GoFloat {
  constructor(readonly value: number) {}
}

/** A byte of a string (Go's `index` of a string yields uint8). */
export class GoUint8 {
  constructor(readonly value: number) {}
}

export class GoComplex {
  constructor(
    readonly real: number,
    readonly imag: number,
  ) {}
}

/** A value still wrapped in Go's interface{}: only `slice` sees one, and refuses it as an index. */
export class InterfaceValue {
  constructor(readonly value: unknown) {}
}

/**
 * Go's `map[string]string`, as Distr passes `.Secrets`: its elements are `string`, not `interface {}`, so a
 * missing one reads as "" where Go reads the map's zero value (`index`, a checked missing key), and Go's
 * messages name `map[string]string` and `string`. `onRead` is told each key whose value the template reads.
 */
export class GoStringMap {
  private readonly entries = new Map<string, string>();

  constructor(
    entries: Iterable<readonly [string, string]>,
    private readonly onRead?: (key: string) => void,
  ) {
    for (const [key, value] of entries) {
      if (typeof key !== 'string' || typeof value !== 'string') {
        throw new TypeError('a GoStringMap holds only string keys and string values');
      }
      this.entries.set(key, value);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  has(key: string): boolean {
    return this.entries.has(key);
  }

  /** The value of `key`, or `undefined` when absent; a present value counts as read. */
  get(key: string): string | undefined {
    const value = this.entries.get(key);
    if (value !== undefined && this.onRead !== undefined) this.onRead(key);
    return value;
  }

  keys(): string[] {
    return [...this.entries.keys()];
  }
}

export type GoMap = Record<string, unknown> | ReadonlyMap<string, unknown> | GoStringMap;

export function isMap(v: unknown): v is GoMap {
  if (typeof v !== 'object' || v === null) return false;
  if (v instanceof GoStringMap || v instanceof Map) return true;
  if (Array.isArray(v) || v instanceof GoFloat || v instanceof GoComplex || v instanceof GoUint8) return false;
  const proto = Object.getPrototypeOf(v) as unknown;
  return proto === Object.prototype || proto === null;
}

const hasOwn = Object.prototype.hasOwnProperty;

/** Own entry of a map, or `undefined` when absent (never the prototype chain). */
export function mapGet(m: GoMap, key: string): unknown {
  if (m instanceof GoStringMap) return m.get(key);
  if (m instanceof Map) return m.has(key) ? m.get(key) : undefined;
  return hasOwn.call(m, key) ? (m as Record<string, unknown>)[key] : undefined;
}

export function mapHas(m: GoMap, key: string): boolean {
  return m instanceof Map || m instanceof GoStringMap ? m.has(key) : hasOwn.call(m, key);
}

export function mapSize(m: GoMap): number {
  return m instanceof Map || m instanceof GoStringMap ? m.size : Object.keys(m).length;
}

/** Go's `reflect.Zero` of the map's element type: "" for map[string]string, a nil interface{} otherwise. */
export function mapZero(m: GoMap): unknown {
  return m instanceof GoStringMap ? '' : null;
}

/** Compares as Go compares strings: by UTF-8 bytes, which is code point order. */
export function compareGoStrings(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    // A surrogate (astral code point) sorts after every BMP code unit in code point order.
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Keys of a map in Go's `fmtsort` order (strings ascending). */
export function sortedKeys(m: GoMap): string[] {
  const keys = m instanceof GoStringMap ? m.keys() : m instanceof Map ? [...m.keys()].map(String) : Object.keys(m);
  return keys.sort(compareGoStrings);
}

export function isInt(v: unknown): v is number {
  return typeof v === 'number' && Number.isSafeInteger(v);
}

export function isFloat(v: unknown): boolean {
  return v instanceof GoFloat || (typeof v === 'number' && !Number.isSafeInteger(v));
}

export function floatValue(v: unknown): number {
  return v instanceof GoFloat ? v.value : (v as number);
}

/** Go's type name as `%T` and error messages print it. */
export function typeName(v: unknown): string {
  switch (typeof v) {
    case 'string':
      return 'string';
    case 'boolean':
      return 'bool';
    case 'number':
      return Number.isSafeInteger(v) ? 'int' : 'float64';
    case 'function':
      return 'func(...interface {}) interface {}';
    case 'undefined':
      return '<nil>';
  }
  if (v === null) return '<nil>';
  if (v instanceof GoFloat) return 'float64';
  if (v instanceof GoComplex) return 'complex128';
  if (v instanceof GoUint8) return 'uint8';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof GoStringMap) return 'map[string]string';
  if (isMap(v)) return 'map[string]interface {}';
  return 'interface {}';
}

/** Go's basic kinds, as the comparison functions group them. */
export const enum Kind {
  Invalid,
  Bool,
  Complex,
  Int,
  Float,
  String,
  Uint,
  Other,
}

export function basicKind(v: unknown): Kind {
  switch (typeof v) {
    case 'string':
      return Kind.String;
    case 'boolean':
      return Kind.Bool;
    case 'number':
      return Number.isSafeInteger(v) ? Kind.Int : Kind.Float;
    case 'undefined':
      return Kind.Invalid;
  }
  if (v === null) return Kind.Invalid;
  if (v instanceof GoFloat) return Kind.Float;
  if (v instanceof GoComplex) return Kind.Complex;
  if (v instanceof GoUint8) return Kind.Uint;
  return Kind.Other;
}

/** Go's `isTrue`: the zero value of a type is false. */
export function isTrue(v: unknown): boolean {
  switch (typeof v) {
    case 'string':
      return v.length > 0;
    case 'boolean':
      return v;
    case 'number':
      return v !== 0;
    case 'undefined':
      return false;
    case 'function':
      return true;
  }
  if (v === null) return false;
  if (v instanceof GoFloat || v instanceof GoUint8) return v.value !== 0;
  if (v instanceof GoComplex) return v.real !== 0 || v.imag !== 0;
  if (Array.isArray(v)) return v.length > 0;
  if (isMap(v)) return mapSize(v) > 0;
  return true;
}

/** Go's `indirectInterface`: a nil interface is no value. */
export function indirectInterface(v: unknown): unknown {
  return v === null ? undefined : v;
}

const encoder = new TextEncoder();
const nonAscii = /[\u0080-\uffff]/;

/** Length in UTF-8 bytes, as Go's `len` of a string. */
export function byteLength(s: string): number {
  return nonAscii.test(s) ? encoder.encode(s).length : s.length;
}

export function utf8Bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

export function hasNonAscii(s: string): boolean {
  return nonAscii.test(s);
}
