import { MAX_WIDENING_BEFORE, mergeRegion, widenedEnd, widenedStart } from './match-regions';
import { PARTIAL_AFTER, PARTIAL_BEFORE, PatternPool } from './pattern-pool';
import { ScanWork } from './scan-work';

const ROOT = 0;
const NONE = -1;
const PERCENT_SIGN = 0x25;
const BACKSLASH = 0x5c;
const LOWER_U = 0x75;
/** Symbols after the 256 bytes: the hex letters a-f, in either case, inside an escape. */
const FOLDED_LETTER = 256;
const ALPHABET_SIZE = FOLDED_LETTER + 6;
/** Leading bytes of a pattern that an escape begun before it in the text could still cover (`\u` + 4 hex digits). */
const MAX_ZONE = 5;

const DIGIT = 1;
const LETTER = 2;
/** Hex digits of either case: DIGIT for 0-9, LETTER for a-f and A-F. */
const HEX = new Uint8Array(256);
for (const c of '0123456789') HEX[c.charCodeAt(0)] = DIGIT;
for (const c of 'abcdefABCDEF') HEX[c.charCodeAt(0)] = LETTER;
/** Bytes that can sit inside an escape after its `%` or `\`. */
const ESCAPE_TAIL = new Uint8Array(HEX);
ESCAPE_TAIL[LOWER_U] = DIGIT;

// A node is NODE_SIZE int32s, so one lookup touches one cache line: its failure link, its output (a terminal index or
// NONE), and the symbol on the edge into it with bits saying where its children are.
const NODE_SIZE = 3;
const FAIL = 0;
const OUTPUT = 1;
const INFO = 2;
const SYMBOL_MASK = 0xffff;
/** The node's first child is the next node. */
const SEQUENTIAL = 1 << 16;
/** The node has children in the branch table. */
const BRANCHING = 2 << 16;
/** The node is a child of the root: its children are in a dense table, as most failure links lead near the root. */
const DEPTH_ONE = 4 << 16;
/** A branch-table slot is BRANCH_SIZE int32s: parent (NONE if free), symbol, child. */
const BRANCH_SIZE = 3;
// Terminal bits: a verification-free pattern ends here; its flags; such a pattern with PARTIAL_AFTER ends here or
// further down the output chain; a pattern needing byte checks ends here; such a pattern with PARTIAL_AFTER ends here
// or further down.
const HAS_PLAIN = 1;
const PLAIN_BEFORE = 2;
const PLAIN_AFTER = 4;
const PLAIN_AFTER_IN_CHAIN = 8;
const HAS_CHECKED = 16;
const CHECKED_AFTER_IN_CHAIN = 32;

/**
 * Reads bytes left to right and tells which are hex letters inside a `%hh`, `%uhhhh` or `\uhhhh` escape begun in the
 * bytes before (either case, complete or not): those become FOLDED_LETTER symbols, so `%2f` and `%2F` read the same.
 */
class EscapeReader {
  /** Hex digits read since the last `%`, or -1 outside such an escape. */
  private percentDigits = -1;
  /** Hex digits read since the last `%u` or `\u`, or -1. */
  private unicodeDigits = -1;
  private afterEscapeStart = false;

  symbol(byte: number): number {
    const hex = HEX[byte];
    const percent = this.percentDigits >= 0 && this.percentDigits < 2;
    const unicode = this.unicodeDigits >= 0 && this.unicodeDigits < 4;
    this.percentDigits = byte === PERCENT_SIGN ? 0 : percent && hex !== 0 ? this.percentDigits + 1 : -1;
    this.unicodeDigits =
      byte === LOWER_U && this.afterEscapeStart ? 0 : unicode && hex !== 0 ? this.unicodeDigits + 1 : -1;
    this.afterEscapeStart = byte === PERCENT_SIGN || byte === BACKSLASH;
    return hex === LETTER && (percent || unicode) ? FOLDED_LETTER + (byte | 0x20) - 0x61 : byte;
  }
}

/**
 * What one pattern is looked for as: `key` symbols in the automaton, then, unless `checks` is empty, those byte
 * offsets compared exactly. The key skips the first `zone` bytes of the pattern (always among the checks).
 */
interface AutomatonEntry {
  readonly id: number;
  readonly key: ArrayLike<number>;
  readonly zone: number;
  readonly checks: readonly number[];
}

/**
 * Aho-Corasick over a set of patterns: a trie whose nodes are numbered so that a node's first child is usually the
 * next node (other children sit in one hash table), with failure links and, per node, the nearest pattern end on its
 * failure chain. Each input byte costs one transition plus failure links that, amortised, add at most one per byte,
 * plus a bounded number of output steps, whatever the patterns.
 */
class Automaton {
  private constructor(
    private readonly pool: PatternPool,
    private readonly foldsEscapes: boolean,
    /** Per node: failure link; the nearest terminal (an index below) on its failure chain, itself included; info. */
    private readonly nodes: Int32Array,
    private readonly rootChildren: Int32Array,
    /** The children of the root's child on symbol `a`, at `a * ALPHABET_SIZE + symbol`. */
    private readonly depthOneChildren: Int32Array,
    private readonly branches: Int32Array,
    private readonly branchShift: number,
    private readonly terminalDepths: Int32Array,
    private readonly terminalBits: Uint8Array,
    /** The next terminal down the output chain holding a verification-free pattern, or NONE. */
    private readonly nextPlain: Int32Array,
    /** The next terminal down the output chain holding patterns to check, or NONE. */
    private readonly nextChecked: Int32Array,
    /** Checked entries of terminal `t` are `entryIds[entryStarts[t] .. entryStarts[t + 1])`. */
    private readonly entryStarts: Int32Array,
    private readonly entryIds: Int32Array,
    private readonly entryZones: Uint8Array,
    /** The offsets entry `e` checks are `checks[checkStarts[e] .. checkStarts[e + 1])`. */
    private readonly checkStarts: Int32Array,
    private readonly checks: Int32Array,
  ) {}

  static build(pool: PatternPool, entries: readonly AutomatonEntry[], foldsEscapes: boolean): Automaton {
    const capacity = 1 + entries.reduce((sum, entry) => sum + entry.key.length, 0);
    const nodes = new Int32Array(NODE_SIZE * capacity);
    const parents = new Int32Array(capacity);
    const depths = new Int32Array(capacity);
    const terminalOf = new Int32Array(capacity).fill(NONE);
    const rootChildren = new Int32Array(ALPHABET_SIZE).fill(NONE);
    const depthOneChildren = new Int32Array(ALPHABET_SIZE * ALPHABET_SIZE).fill(NONE);
    // Each insertion adds at most one child that is not the node after its parent.
    const branchBits = Math.max(4, Math.ceil(Math.log2(2 * entries.length + 1)));
    const branchSlots = 2 ** branchBits;
    const branches = new Int32Array(BRANCH_SIZE * branchSlots);
    for (let slot = 0; slot < branchSlots; slot++) branches[BRANCH_SIZE * slot] = NONE;
    const branchShift = 32 - branchBits;

    const trie = new Automaton(
      pool,
      foldsEscapes,
      nodes,
      rootChildren,
      depthOneChildren,
      branches,
      branchShift,
      new Int32Array(0),
      new Uint8Array(0),
      new Int32Array(0),
      new Int32Array(0),
      new Int32Array(0),
      new Int32Array(0),
      new Uint8Array(0),
      new Int32Array(0),
      new Int32Array(0),
    );
    let nodeCount = 1;
    const terminalNodes: number[] = [];
    const terminalPlainFlags: number[] = [];
    const checkedByTerminal: AutomatonEntry[][] = [];
    for (const entry of entries) {
      let node = ROOT;
      for (let i = 0; i < entry.key.length; i++) {
        const symbol = entry.key[i];
        let next = trie.child(node, symbol);
        if (next === NONE) {
          next = nodeCount++;
          nodes[NODE_SIZE * next + INFO] = symbol;
          parents[next] = node;
          depths[next] = depths[node] + 1;
          const info = nodes[NODE_SIZE * node + INFO];
          if (node === ROOT) {
            rootChildren[symbol] = next;
            nodes[NODE_SIZE * next + INFO] |= DEPTH_ONE;
          } else if ((info & DEPTH_ONE) !== 0) depthOneChildren[(info & SYMBOL_MASK) * ALPHABET_SIZE + symbol] = next;
          else if (next === node + 1) nodes[NODE_SIZE * node + INFO] |= SEQUENTIAL;
          else {
            let slot = branchHash(node, symbol) >>> branchShift;
            while (branches[BRANCH_SIZE * slot] !== NONE) slot = (slot + 1) & (branchSlots - 1);
            branches[BRANCH_SIZE * slot] = node;
            branches[BRANCH_SIZE * slot + 1] = symbol;
            branches[BRANCH_SIZE * slot + 2] = next;
            nodes[NODE_SIZE * node + INFO] |= BRANCHING;
          }
        }
        node = next;
      }
      let terminal = terminalOf[node];
      if (terminal === NONE) {
        terminal = terminalOf[node] = terminalNodes.length;
        terminalNodes.push(node);
        terminalPlainFlags.push(0);
        checkedByTerminal.push([]);
      }
      if (entry.checks.length === 0) terminalPlainFlags[terminal] |= HAS_PLAIN | plainBitsOf(pool.flags[entry.id]);
      else checkedByTerminal[terminal].push(entry);
    }

    const table = nodes.slice(0, NODE_SIZE * nodeCount);
    for (let node = 0; node < nodeCount; node++) table[NODE_SIZE * node + OUTPUT] = NONE;
    const terminalCount = terminalNodes.length;
    const terminalBits = new Uint8Array(terminalCount);
    const nextPlain = new Int32Array(terminalCount).fill(NONE);
    const nextChecked = new Int32Array(terminalCount).fill(NONE);
    const built = new Automaton(
      pool,
      foldsEscapes,
      table,
      rootChildren,
      depthOneChildren,
      branches,
      branchShift,
      new Int32Array(terminalNodes.map((node) => depths[node])),
      terminalBits,
      nextPlain,
      nextChecked,
      ...packEntries(checkedByTerminal),
    );

    // Failure links in order of depth: a node's link points to a shallower node, whose own link is then known.
    for (const node of nodesByDepth(depths, nodeCount)) {
      const parent = parents[node];
      const at = NODE_SIZE * node;
      if (parent !== ROOT) {
        const symbol = table[at + INFO] & SYMBOL_MASK;
        let link = table[NODE_SIZE * parent + FAIL];
        let next = built.child(link, symbol);
        while (next === NONE && link !== ROOT) {
          link = table[NODE_SIZE * link + FAIL];
          next = built.child(link, symbol);
        }
        table[at + FAIL] = next === NONE ? ROOT : next;
      }
      const below = table[NODE_SIZE * table[at + FAIL] + OUTPUT];
      const terminal = terminalOf[node];
      if (terminal === NONE) {
        table[at + OUTPUT] = below;
        continue;
      }
      table[at + OUTPUT] = terminal;
      let bits = terminalPlainFlags[terminal];
      if ((bits & PLAIN_AFTER) !== 0) bits |= PLAIN_AFTER_IN_CHAIN;
      const checked = checkedByTerminal[terminal];
      if (checked.length > 0) bits |= HAS_CHECKED;
      if (checked.some((entry) => (pool.flags[entry.id] & PARTIAL_AFTER) !== 0)) bits |= CHECKED_AFTER_IN_CHAIN;
      if (below !== NONE) {
        const belowBits = terminalBits[below];
        bits |= belowBits & (PLAIN_AFTER_IN_CHAIN | CHECKED_AFTER_IN_CHAIN);
        nextPlain[terminal] = (belowBits & HAS_PLAIN) !== 0 ? below : nextPlain[below];
        nextChecked[terminal] = (belowBits & HAS_CHECKED) !== 0 ? below : nextChecked[below];
      }
      terminalBits[terminal] = bits;
    }
    return built;
  }

  get byteLength(): number {
    return (
      this.nodes.byteLength +
      this.rootChildren.byteLength +
      this.depthOneChildren.byteLength +
      this.branches.byteLength +
      this.terminalDepths.byteLength +
      this.terminalBits.byteLength +
      this.nextPlain.byteLength +
      this.nextChecked.byteLength +
      this.entryStarts.byteLength +
      this.entryIds.byteLength +
      this.entryZones.byteLength +
      this.checkStarts.byteLength +
      this.checks.byteLength
    );
  }

  /** Appends the union of the occurrences ending at each input position, in order, merged, to `regions`. */
  scan(input: Uint8Array, regions: number[], work: ScanWork): void {
    const reader = this.foldsEscapes ? new EscapeReader() : undefined;
    const nodes = this.nodes;
    const merged: number[] = [];
    let steps = 0;
    let node = ROOT;
    for (let at = 0; at < input.length; at++) {
      const symbol = reader === undefined ? input[at] : reader.symbol(input[at]);
      let next = this.child(node, symbol);
      while (next === NONE && node !== ROOT) {
        node = nodes[NODE_SIZE * node + FAIL];
        next = this.child(node, symbol);
        steps++;
      }
      node = next === NONE ? ROOT : next;
      steps++;
      const terminal = nodes[NODE_SIZE * node + OUTPUT];
      if (terminal !== NONE) steps += this.report(input, at + 1, terminal, merged);
    }
    work.automatonSteps += steps;
    for (const bound of merged) regions.push(bound);
  }

  /**
   * Merges the union of the regions of the patterns ending at `end` into `merged`; returns the steps taken. The
   * region starts at the longest match, or up to MAX_WIDENING_BEFORE bytes before it when a match at most that much
   * shorter widens over a partial base64 character; it ends after the partial character when any match widens there.
   * So only those few matches, and the patterns needing byte checks, are looked at one by one.
   */
  private report(input: Uint8Array, end: number, terminal: number, merged: number[]): number {
    const { terminalBits, terminalDepths } = this;
    let steps = 0;
    let longest = 0;
    let start = end;
    let widensAfter = false;
    let plain = (terminalBits[terminal] & HAS_PLAIN) !== 0 ? terminal : this.nextPlain[terminal];
    if (plain !== NONE) {
      longest = terminalDepths[plain];
      widensAfter = (terminalBits[terminal] & PLAIN_AFTER_IN_CHAIN) !== 0;
      for (; plain !== NONE && terminalDepths[plain] >= longest - MAX_WIDENING_BEFORE; plain = this.nextPlain[plain]) {
        steps++;
        const at = end - terminalDepths[plain];
        start = Math.min(start, (terminalBits[plain] & PLAIN_BEFORE) !== 0 ? widenedStart(input, at) : at);
      }
    }
    const { bytes, starts, flags } = this.pool;
    let checked = (terminalBits[terminal] & HAS_CHECKED) !== 0 ? terminal : this.nextChecked[terminal];
    for (; checked !== NONE; checked = this.nextChecked[checked]) {
      const depth = terminalDepths[checked];
      // Past here no match can start early enough to matter, nor widen the end any further.
      const endSettled = widensAfter || (terminalBits[checked] & CHECKED_AFTER_IN_CHAIN) === 0;
      if (longest > 0 && depth + MAX_ZONE < longest - MAX_WIDENING_BEFORE && endSettled) break;
      for (let e = this.entryStarts[checked]; e < this.entryStarts[checked + 1]; e++) {
        steps++;
        const id = this.entryIds[e];
        const length = depth + this.entryZones[e];
        const at = end - length;
        if (at < 0) continue;
        let c = this.checkStarts[e];
        const checksEnd = this.checkStarts[e + 1];
        for (; c < checksEnd && input[at + this.checks[c]] === bytes[starts[id] + this.checks[c]]; c++) steps++;
        if (c < checksEnd) continue;
        longest = Math.max(longest, length);
        start = Math.min(start, (flags[id] & PARTIAL_BEFORE) !== 0 ? widenedStart(input, at) : at);
        widensAfter ||= (flags[id] & PARTIAL_AFTER) !== 0;
      }
    }
    if (longest > 0) mergeRegion(merged, start, widensAfter ? widenedEnd(input, end) : end);
    return steps;
  }

  private child(node: number, symbol: number): number {
    if (node === ROOT) return this.rootChildren[symbol];
    const { nodes, branches } = this;
    const info = nodes[NODE_SIZE * node + INFO];
    if ((info & DEPTH_ONE) !== 0) return this.depthOneChildren[(info & SYMBOL_MASK) * ALPHABET_SIZE + symbol];
    if ((info & SEQUENTIAL) !== 0 && (nodes[NODE_SIZE * (node + 1) + INFO] & SYMBOL_MASK) === symbol) return node + 1;
    if ((info & BRANCHING) === 0) return NONE;
    const mask = branches.length / BRANCH_SIZE - 1;
    for (let slot = branchHash(node, symbol) >>> this.branchShift; ; slot = (slot + 1) & mask) {
      const at = BRANCH_SIZE * slot;
      if (branches[at] === NONE) return NONE;
      if (branches[at] === node && branches[at + 1] === symbol) return branches[at + 2];
    }
  }
}

/**
 * The linear-time tier: every pattern in one of two Aho-Corasick automata. Patterns without escape hex letters are
 * matched byte for byte. The others are matched with each escape's hex letters folded (on both sides, by the same
 * left-to-right reading), which accepts exactly the case changes their marked letters allow; the few bytes where the
 * text alone cannot tell (letters an escape begun before the match could cover, letters of escapes that are not
 * marked) are checked byte for byte after the automaton reports the pattern.
 */
export class AutomatonTier {
  private constructor(private readonly automata: readonly Automaton[]) {}

  static build(pool: PatternPool): AutomatonTier {
    const exact: AutomatonEntry[] = [];
    const folded: AutomatonEntry[] = [];
    for (let id = 0; id < pool.size; id++) {
      const bytes = pool.bytes.subarray(pool.starts[id], pool.starts[id + 1]);
      if (!hasHexLetters(pool, id)) exact.push({ id, key: bytes, zone: 0, checks: [] });
      else folded.push(foldedEntry(pool, id, bytes));
    }
    const automata: Automaton[] = [];
    if (exact.length > 0) automata.push(Automaton.build(pool, exact, false));
    if (folded.length > 0) automata.push(Automaton.build(pool, folded, true));
    return new AutomatonTier(automata);
  }

  get byteLength(): number {
    return this.automata.reduce((sum, automaton) => sum + automaton.byteLength, 0);
  }

  scan(input: Uint8Array, regions: number[], work: ScanWork): void {
    for (const automaton of this.automata) automaton.scan(input, regions, work);
  }
}

function hasHexLetters(pool: PatternPool, id: number): boolean {
  for (let at = pool.starts[id]; at < pool.starts[id + 1]; at++) {
    if ((pool.hexLetters[at >>> 3] & (1 << (at & 7))) !== 0) return true;
  }
  return false;
}

/**
 * The folded key of a pattern with escape hex letters, and the bytes to check exactly: folded letters that are not
 * marked, and the leading bytes an escape begun before the pattern could cover when one of them is a letter.
 */
function foldedEntry(pool: PatternPool, id: number, bytes: Uint8Array): AutomatonEntry {
  const reader = new EscapeReader();
  const symbols = new Uint16Array(bytes.length);
  const checks: number[] = [];
  let zone = 0;
  while (zone < Math.min(MAX_ZONE, bytes.length) && ESCAPE_TAIL[bytes[zone]] !== 0) zone++;
  if (!bytes.subarray(0, zone).some((byte) => HEX[byte] === LETTER)) zone = 0;
  for (let i = 0; i < zone; i++) checks.push(i);
  for (let i = 0; i < bytes.length; i++) {
    symbols[i] = reader.symbol(bytes[i]);
    const at = pool.starts[id] + i;
    if (i >= zone && symbols[i] >= FOLDED_LETTER && (pool.hexLetters[at >>> 3] & (1 << (at & 7))) === 0) checks.push(i);
  }
  return { id, key: symbols.subarray(zone), zone, checks };
}

function plainBitsOf(patternFlags: number): number {
  return (
    ((patternFlags & PARTIAL_BEFORE) !== 0 ? PLAIN_BEFORE : 0) |
    ((patternFlags & PARTIAL_AFTER) !== 0 ? PLAIN_AFTER : 0)
  );
}

/** The checked entries grouped by terminal, as flat arrays. */
function packEntries(
  byTerminal: readonly (readonly AutomatonEntry[])[],
): [Int32Array, Int32Array, Uint8Array, Int32Array, Int32Array] {
  const entryStarts = new Int32Array(byTerminal.length + 1);
  const all: AutomatonEntry[] = [];
  byTerminal.forEach((entries, terminal) => {
    entryStarts[terminal] = all.length;
    all.push(...entries);
  });
  entryStarts[byTerminal.length] = all.length;
  const checkStarts = new Int32Array(all.length + 1);
  all.forEach((entry, e) => (checkStarts[e + 1] = checkStarts[e] + entry.checks.length));
  return [
    entryStarts,
    Int32Array.from(all, (entry) => entry.id),
    Uint8Array.from(all, (entry) => entry.zone),
    checkStarts,
    Int32Array.from(all.flatMap((entry) => entry.checks)),
  ];
}

/** Nodes 1..count-1 sorted by depth (a counting sort), so each comes after every shallower node. */
function nodesByDepth(depths: Int32Array, count: number): Int32Array {
  let deepest = 0;
  for (let node = 1; node < count; node++) deepest = Math.max(deepest, depths[node]);
  const firsts = new Int32Array(deepest + 2);
  for (let node = 1; node < count; node++) firsts[depths[node] + 1]++;
  for (let depth = 1; depth < firsts.length; depth++) firsts[depth] += firsts[depth - 1];
  const order = new Int32Array(count - 1);
  for (let node = 1; node < count; node++) order[firsts[depths[node]]++] = node;
  return order;
}

function branchHash(node: number, symbol: number): number {
  return (Math.imul(node, 0x9e3779b1) ^ Math.imul(symbol + 1, 0x85ebca6b)) >>> 0;
}
