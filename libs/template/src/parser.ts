// Go's text/template/parse parser (parse.go), item for item, so errors name the same token and line.
import { TemplateErrorCode, type TemplateParseError } from './errors';
import { goQuote, isPrintRune } from './fmt';
import { ItemLexer, ItemType, type Item } from './lexer';
import { LexicalScope } from './scope';
import { SyntaxError as LiteralSyntaxError, parseGoFloat, parseGoInteger, unquote, unquoteChar } from './literals';
import type {
  BranchNode,
  CommandNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  TemplateNode,
  VariableNode,
} from './nodes';

/** A parse error before it is dressed as a TemplateParseError: Go's message, its line and the offending offset. */
export class ParseFailure extends Error {
  constructor(
    message: string,
    readonly reason: string,
    readonly line: number,
    readonly pos: number,
    readonly code: TemplateParseError['code'] = TemplateErrorCode.Parse,
  ) {
    super(message);
  }
}

/** One parsed template body: the top-level one, or a `define`/`block`. */
export interface Tree {
  readonly name: string;
  readonly root: ListNode;
  /** Deepest nesting of control structures and parentheses in this body. */
  readonly nesting: number;
}

export interface ParseOptions {
  readonly functions: ReadonlySet<string>;
  /** Nesting of control structures and parenthesised pipelines allowed before parsing fails. */
  readonly maxNesting: number;
  /** Parse nodes allowed in one source (all its templates together). */
  readonly maxNodes: number;
  /** Epoch milliseconds after which parsing fails. */
  readonly deadline?: number;
}

/** Parse nodes between two looks at the clock. */
const NODES_PER_CLOCK_CHECK = 1024;

const EOF_ITEM: Item = { typ: ItemType.EOF, pos: 0, val: '', line: 0 };
const ZERO_ITEM: Item = { typ: ItemType.Error, pos: 0, val: '', line: 0 };

function itemString(i: Item): string {
  if (i.typ === ItemType.EOF) return 'EOF';
  if (i.typ === ItemType.Error) return i.val;
  if (i.typ > ItemType.Keyword) return `<${i.val}>`;
  // Go compares the length in bytes, then %.10q keeps ten runes.
  if (Buffer.byteLength(i.val) > 10) return goQuote([...i.val].slice(0, 10).join('')) + '...';
  return goQuote(i.val);
}

class ItemStream {
  private last: Item | null = null;
  constructor(private readonly lexer: ItemLexer | null) {}
  nextItem(): Item {
    if (this.lexer === null) return EOF_ITEM;
    // EOF and errors end the items: they are returned again, as Go's lexer keeps returning them.
    if (this.last !== null && (this.last.typ === ItemType.EOF || this.last.typ === ItemType.Error)) return this.last;
    this.last = this.lexer.next();
    return this.last;
  }
}

/** Shared by every tree parsed from one source. */
interface ParseState {
  readonly parseName: string;
  stream: ItemStream;
  readonly treeSet: Map<string, Tree>;
  readonly options: ParseOptions;
  /** Parse nodes built so far, in every tree. */
  nodes: number;
  /** Node count at which the node limit and the deadline are checked again. */
  checkNodesAt: number;
}

function isEmptyTree(n: Node): boolean {
  switch (n.type) {
    case 'comment':
      return true;
    case 'list':
      return n.nodes.every(isEmptyTree);
    case 'text':
      return /^[\t\n\v\f\r \u0085\u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]*$/.test(n.text);
    default:
      return false;
  }
}

class TreeParser {
  name: string;
  root: ListNode = { type: 'list', pos: 0, nodes: [] };
  private readonly token: [Item, Item, Item] = [ZERO_ITEM, ZERO_ITEM, ZERO_ITEM];
  private peekCount = 0;
  private readonly vars = new LexicalScope<true>();
  private actionLine = 0;
  private rangeDepth = 0;
  private depth = 0;
  private maxDepth = 0;

  constructor(
    name: string,
    private readonly state: ParseState,
  ) {
    this.name = name;
    this.vars.push('$', true);
  }

  // ---- token buffer, as Go's Tree.next/backup/peek ----

  private next(): Item {
    if (this.peekCount > 0) this.peekCount--;
    else this.token[0] = this.state.stream.nextItem();
    return this.token[this.peekCount];
  }
  private backup(): void {
    this.peekCount++;
  }
  private backup2(t1: Item): void {
    this.token[1] = t1;
    this.peekCount = 2;
  }
  private backup3(t2: Item, t1: Item): void {
    this.token[1] = t1;
    this.token[2] = t2;
    this.peekCount = 3;
  }
  private peek(): Item {
    if (this.peekCount > 0) return this.token[this.peekCount - 1];
    this.peekCount = 1;
    this.token[0] = this.state.stream.nextItem();
    return this.token[0];
  }
  private nextNonSpace(): Item {
    let token: Item;
    do token = this.next();
    while (token.typ === ItemType.Space);
    return token;
  }
  private peekNonSpace(): Item {
    const token = this.nextNonSpace();
    this.backup();
    return token;
  }

  // ---- errors ----

  errorf(reason: string): never {
    const t = this.token[0];
    throw new ParseFailure(`template: ${this.state.parseName}:${t.line}: ${reason}`, reason, t.line, t.pos);
  }

  private expect(expected: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== expected) this.unexpected(token, context);
    return token;
  }

  private expectOneOf(e1: ItemType, e2: ItemType, context: string): Item {
    const token = this.nextNonSpace();
    if (token.typ !== e1 && token.typ !== e2) this.unexpected(token, context);
    return token;
  }

  private unexpected(token: Item, context: string): never {
    if (token.typ === ItemType.Error) {
      let extra = '';
      if (this.actionLine !== 0 && this.actionLine !== token.line) {
        extra = ` in action started at ${this.state.parseName}:${this.actionLine}`;
        if (token.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.errorf(`${itemString(token)}${extra}`);
    }
    this.errorf(`unexpected ${itemString(token)} in ${context}`);
  }

  private enter(): void {
    this.depth++;
    if (this.depth > this.maxDepth) this.maxDepth = this.depth;
    if (this.depth > this.state.options.maxNesting) {
      const t = this.token[0];
      const reason = 'max expression depth exceeded';
      const message = `template: ${this.state.parseName}:${t.line}: ${reason}`;
      throw new ParseFailure(message, reason, t.line, t.pos, TemplateErrorCode.TooDeep);
    }
  }
  private leave(): void {
    this.depth--;
  }

  /** Counts one parse node against the node limit and, now and then, the deadline. */
  private count(): void {
    const state = this.state;
    if (++state.nodes > state.checkNodesAt) checkParseEffort(state, this.token[0]);
  }

  // ---- grammar ----

  add(): void {
    const existing = this.state.treeSet.get(this.name);
    const tree: Tree = { name: this.name, root: this.root, nesting: this.maxDepth };
    if (existing === undefined || isEmptyTree(existing.root)) {
      this.state.treeSet.set(this.name, tree);
      return;
    }
    if (!isEmptyTree(this.root)) this.errorf(`template: multiple definition of template ${goQuote(this.name)}`);
  }

  parse(): void {
    this.root = this.newList(this.peek().pos);
    while (this.peek().typ !== ItemType.EOF) {
      if (this.peek().typ === ItemType.LeftDelim) {
        const delim = this.next();
        if (this.nextNonSpace().typ === ItemType.Define) {
          const newT = new TreeParser('definition', this.state);
          newT.parseDefinition();
          continue;
        }
        this.backup2(delim);
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.errorf(`unexpected ${n.type === 'end' ? '{{end}}' : '{{else}}'}`);
      this.root.nodes.push(n);
    }
  }

  private parseDefinition(): void {
    const context = 'define clause';
    const name = this.expectOneOf(ItemType.String, ItemType.RawString, context);
    this.name = this.unquote(name.val);
    this.expect(ItemType.RightDelim, context);
    this.enter();
    const [list, end] = this.itemList();
    this.leave();
    this.root = list;
    if (end.type !== 'end') this.errorf(`unexpected ${itemStringOfNode(end)} in ${context}`);
    this.add();
  }

  private newList(pos: number): ListNode {
    this.count();
    return { type: 'list', pos, nodes: [] };
  }

  private itemList(): [ListNode, Node] {
    const list = this.newList(this.peekNonSpace().pos);
    while (this.peekNonSpace().typ !== ItemType.EOF) {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.errorf('unexpected EOF');
  }

  private textOrAction(): Node {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Text:
        this.count();
        return { type: 'text', pos: token.pos, text: token.val };
      case ItemType.LeftDelim: {
        this.actionLine = token.line;
        try {
          return this.action();
        } finally {
          this.actionLine = 0;
        }
      }
      default:
        this.unexpected(token, 'input');
    }
  }

  private action(): Node {
    this.count();
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Block:
        return this.blockControl();
      case ItemType.Break:
        return this.breakControl(token.pos, '{{break}}', 'break');
      case ItemType.Continue:
        return this.breakControl(token.pos, '{{continue}}', 'continue');
      case ItemType.Else:
        return this.elseControl();
      case ItemType.End:
        return { type: 'end', pos: this.expect(ItemType.RightDelim, 'end').pos };
      case ItemType.If:
        return this.branchControl('if', true);
      case ItemType.Range:
        return this.branchControl('range', false);
      case ItemType.Template:
        return this.templateControl();
      case ItemType.With:
        return this.branchControl('with', false);
    }
    this.backup();
    const t = this.peek();
    return { type: 'action', pos: t.pos, pipe: this.pipeline('command', ItemType.RightDelim) };
  }

  private breakControl(pos: number, context: string, type: 'break' | 'continue'): Node {
    const token = this.nextNonSpace();
    if (token.typ !== ItemType.RightDelim) this.unexpected(token, context);
    if (this.rangeDepth === 0) this.errorf(`${context} outside {{range}}`);
    return { type, pos };
  }

  private pipeline(context: string, end: ItemType): PipeNode {
    this.count();
    const token = this.peekNonSpace();
    const pipe: PipeNode = { type: 'pipe', pos: token.pos, isAssign: false, decl: [], cmds: [] };
    decls: for (;;) {
      const v = this.peekNonSpace();
      if (v.typ === ItemType.Variable) {
        this.next();
        const tokenAfterVariable = this.peek();
        const next = this.peekNonSpace();
        if (next.typ === ItemType.Assign || next.typ === ItemType.Declare) {
          pipe.isAssign = next.typ === ItemType.Assign;
          this.nextNonSpace();
          pipe.decl.push(this.newVariable(v.pos, v.val));
          this.vars.push(v.val, true);
        } else if (next.typ === ItemType.Char && next.val === ',') {
          this.nextNonSpace();
          pipe.decl.push(this.newVariable(v.pos, v.val));
          this.vars.push(v.val, true);
          if (context === 'range' && pipe.decl.length < 2) {
            const p = this.peekNonSpace().typ;
            if (p === ItemType.Variable || p === ItemType.RightDelim || p === ItemType.RightParen) continue decls;
            this.errorf('range can only initialize variables');
          }
          this.errorf(`too many declarations in ${context}`);
        } else if (tokenAfterVariable.typ === ItemType.Space) this.backup3(v, tokenAfterVariable);
        else this.backup2(v);
      }
      break;
    }
    for (;;) {
      const token = this.nextNonSpace();
      switch (token.typ) {
        case end:
          this.checkPipeline(pipe, context);
          return pipe;
        case ItemType.Bool:
        case ItemType.CharConstant:
        case ItemType.Complex:
        case ItemType.Dot:
        case ItemType.Field:
        case ItemType.Identifier:
        case ItemType.Number:
        case ItemType.Nil:
        case ItemType.RawString:
        case ItemType.String:
        case ItemType.Variable:
        case ItemType.LeftParen:
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(token, context);
      }
    }
  }

  private checkPipeline(pipe: PipeNode, context: string): void {
    if (pipe.cmds.length === 0) this.errorf(`missing value for ${context}`);
    pipe.cmds.slice(1).forEach((c, i) => {
      switch (c.args[0].type) {
        case 'bool':
        case 'dot':
        case 'nil':
        case 'number':
        case 'string':
          this.errorf(`non executable command in pipeline stage ${i + 2}`);
      }
    });
  }

  private branchControl(context: 'if' | 'range' | 'with', allowElseIf: boolean): BranchNode {
    const mark = this.vars.mark();
    this.enter();
    try {
      // An `else if` chain is read in a loop, not by recursion, and is not nesting: Go accepts chains of any
      // length. Each link still ends up in the previous one's else list, the tree Go builds; a link's
      // variables stay visible to the links after it, as in Go's nested parse.
      const links: { pipe: PipeNode; list: ListNode; elsePos: number }[] = [];
      let elseList: ListNode | null = null;
      for (;;) {
        const pipe = this.pipeline(context, ItemType.RightDelim);
        if (context === 'range') this.rangeDepth++;
        const [list, first] = this.itemList();
        let next = first;
        if (context === 'range') this.rangeDepth--;
        if (next.type === 'else' && allowElseIf && this.peek().typ === ItemType.If) {
          this.next();
          links.push({ pipe, list, elsePos: next.pos });
          continue;
        }
        if (next.type === 'else') {
          [elseList, next] = this.itemList();
          if (next.type !== 'end') this.errorf(`expected end; found ${itemStringOfNode(next)}`);
        }
        links.push({ pipe, list, elsePos: -1 });
        break;
      }
      const last = links[links.length - 1];
      let node: BranchNode = { type: context, pos: last.pipe.pos, pipe: last.pipe, list: last.list, elseList };
      for (let i = links.length - 2; i >= 0; i--) {
        const link = links[i];
        const chained = this.newList(link.elsePos);
        chained.nodes.push(node);
        node = { type: context, pos: link.pipe.pos, pipe: link.pipe, list: link.list, elseList: chained };
      }
      return node;
    } finally {
      this.vars.pop(mark);
      this.leave();
    }
  }

  private elseControl(): Node {
    const peek = this.peekNonSpace();
    if (peek.typ === ItemType.If) return { type: 'else', pos: peek.pos };
    const token = this.expect(ItemType.RightDelim, 'else');
    return { type: 'else', pos: token.pos };
  }

  private blockControl(): Node {
    const context = 'block clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    const pipe = this.pipeline(context, ItemType.RightDelim);
    const block = new TreeParser(name, this.state);
    block.enter();
    const [list, end] = block.itemList();
    block.leave();
    block.root = list;
    if (end.type !== 'end') this.errorf(`unexpected ${itemStringOfNode(end)} in ${context}`);
    block.add();
    const node: TemplateNode = { type: 'template', pos: token.pos, name, pipe };
    return node;
  }

  private templateControl(): Node {
    const context = 'template clause';
    const token = this.nextNonSpace();
    const name = this.parseTemplateName(token, context);
    let pipe: PipeNode | null = null;
    if (this.nextNonSpace().typ !== ItemType.RightDelim) {
      this.backup();
      pipe = this.pipeline(context, ItemType.RightDelim);
    }
    return { type: 'template', pos: token.pos, name, pipe };
  }

  private parseTemplateName(token: Item, context: string): string {
    if (token.typ === ItemType.String || token.typ === ItemType.RawString) return this.unquote(token.val);
    this.unexpected(token, context);
  }

  private unquote(quoted: string): string {
    try {
      return unquote(quoted);
    } catch (e) {
      if (e instanceof LiteralSyntaxError) this.errorf(e.message);
      throw e;
    }
  }

  private command(): CommandNode {
    this.count();
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand !== null) cmd.args.push(operand);
      const token = this.next();
      switch (token.typ) {
        case ItemType.Space:
          continue;
        case ItemType.RightDelim:
        case ItemType.RightParen:
          this.backup();
          break;
        case ItemType.Pipe:
          break;
        default:
          this.unexpected(token, 'operand');
      }
      break;
    }
    if (cmd.args.length === 0) this.errorf('empty command');
    return cmd;
  }

  private operand(): Node | null {
    let node = this.term();
    if (node === null) return null;
    this.count();
    if (this.peek().typ === ItemType.Field) {
      const pos = this.peek().pos;
      const fields: string[] = [];
      while (this.peek().typ === ItemType.Field) fields.push(this.next().val.slice(1));
      switch (node.type) {
        case 'field':
          node = { type: 'field', pos, ident: [...node.ident, ...fields] };
          break;
        case 'variable':
          node = this.newVariable(pos, [...node.ident, ...fields].join('.'));
          break;
        case 'bool':
        case 'string':
        case 'number':
        case 'nil':
        case 'dot':
          this.errorf(`unexpected . after term ${goQuote(termString(node))}`);
          break;
        default:
          node = { type: 'chain', pos, node, field: fields };
      }
    }
    return node;
  }

  private term(): Node | null {
    const token = this.nextNonSpace();
    switch (token.typ) {
      case ItemType.Identifier:
        if (!this.state.options.functions.has(token.val)) this.errorf(`function ${goQuote(token.val)} not defined`);
        return { type: 'identifier', pos: token.pos, ident: token.val };
      case ItemType.Dot:
        return { type: 'dot', pos: token.pos };
      case ItemType.Nil:
        return { type: 'nil', pos: token.pos };
      case ItemType.Variable:
        return this.useVar(token.pos, token.val);
      case ItemType.Field:
        return { type: 'field', pos: token.pos, ident: token.val.slice(1).split('.') };
      case ItemType.Bool:
        return { type: 'bool', pos: token.pos, value: token.val === 'true' };
      case ItemType.CharConstant:
      case ItemType.Complex:
      case ItemType.Number:
        return this.newNumber(token);
      case ItemType.LeftParen: {
        this.enter();
        const pipe = this.pipeline('parenthesized pipeline', ItemType.RightParen);
        this.leave();
        return pipe;
      }
      case ItemType.String:
      case ItemType.RawString:
        return { type: 'string', pos: token.pos, quoted: token.val, text: this.unquote(token.val) };
    }
    this.backup();
    return null;
  }

  private newVariable(pos: number, ident: string): VariableNode {
    return { type: 'variable', pos, ident: ident.split('.') };
  }

  private useVar(pos: number, name: string): VariableNode {
    const v = this.newVariable(pos, name);
    if (this.vars.get(v.ident[0]) !== undefined) return v;
    this.errorf(`undefined variable ${goQuote(v.ident[0])}`);
  }

  private newNumber(token: Item): NumberNode {
    const text = token.val;
    const pos = token.pos;
    if (token.typ === ItemType.CharConstant) {
      let r: ReturnType<typeof unquoteChar>;
      try {
        r = unquoteChar(text, 1, "'");
      } catch (e) {
        if (e instanceof LiteralSyntaxError) this.errorf(e.message);
        throw e;
      }
      if (text.slice(r.next) !== "'") this.errorf(`malformed character constant: ${text}`);
      return numberNode(pos, text, true, true, true, false, r.cp, r.cp, 0);
    }
    if (token.typ === ItemType.Complex) {
      let parts: [number, number];
      try {
        parts = scanComplex(text);
      } catch (e) {
        if (e instanceof LiteralSyntaxError) this.errorf(e.message);
        throw e;
      }
      return simplifyComplex(pos, text, parts[0], parts[1]);
    }
    if (text.endsWith('i')) {
      const f = parseGoFloat(text.slice(0, -1));
      if (f !== null) return simplifyComplex(pos, text, 0, f);
    }
    const u = parseGoInteger(text, true);
    const i = parseGoInteger(text, false);
    let isInt = i !== null;
    let isUint = u !== null || i === 0n;
    let int = i !== null ? Number(i) : 0;
    let isFloat = false;
    let float = 0;
    if (isInt) {
      isFloat = true;
      float = int;
    } else if (isUint) {
      isFloat = true;
      float = Number(u);
    } else {
      const f = parseGoFloat(text);
      if (f !== null) {
        if (!/[.eEpP]/.test(text)) this.errorf(`integer overflow: ${goQuote(text)}`);
        isFloat = true;
        float = f;
        if (Number.isInteger(f) && Math.abs(f) < 2 ** 63) {
          isInt = true;
          int = f;
        }
        if (Number.isInteger(f) && f >= 0 && f < 2 ** 64) isUint = true;
      }
    }
    if (!isInt && !isUint && !isFloat) this.errorf(`illegal number syntax: ${goQuote(text)}`);
    return numberNode(pos, text, isInt, isUint, isFloat, false, int, float, 0);
  }
}

/** Go's fmt.Sscan of a complex128 (how the parser reads `1+2i`): a float token, a signed float token, `i`. */
function scanComplex(text: string): [number, number] {
  let at = 0;
  const accept = (chars: string): boolean => {
    if (at < text.length && chars.includes(text[at])) {
      at++;
      return true;
    }
    return false;
  };
  const floatToken = (): string => {
    const start = at;
    accept('+-');
    let digits = '0123456789_';
    let exp = 'eEpP';
    if (accept('0') && accept('xX')) {
      digits = '0123456789aAbBcCdDeEfF_';
      exp = 'pP';
    }
    while (accept(digits));
    if (accept('.')) while (accept(digits));
    if (accept(exp)) {
      accept('+-');
      while (accept('0123456789_'));
    }
    return text.slice(start, at);
  };
  const convert = (token: string): number => {
    const p = token.indexOf('p');
    const mantissa = p >= 0 ? token.slice(0, p) : token;
    const f = parseGoFloat(mantissa);
    if (f === null) throw new LiteralSyntaxError(`strconv.ParseFloat: parsing ${goQuote(token)}: invalid syntax`);
    return p >= 0 ? f * 2 ** Number(token.slice(p + 1)) : f;
  };
  const complexError = 'syntax error scanning complex number';
  const real = floatToken();
  const signAt = at;
  if (!accept('+-')) throw new LiteralSyntaxError(complexError);
  const imag = text[signAt] + floatToken();
  if (!accept('i')) throw new LiteralSyntaxError(complexError);
  return [convert(real), convert(imag)];
}

function simplifyComplex(pos: number, text: string, re: number, im: number): NumberNode {
  const isFloat = im === 0;
  const isInt = isFloat && Number.isInteger(re) && Math.abs(re) < 2 ** 63;
  const isUint = isFloat && Number.isInteger(re) && re >= 0 && re < 2 ** 64;
  return numberNode(pos, text, isInt, isUint, isFloat, true, isInt ? re : 0, re, im);
}

/** One literal object shape for every number node: object spreads here made parsing many numbers slow. */
function numberNode(
  pos: number,
  text: string,
  isInt: boolean,
  isUint: boolean,
  isFloat: boolean,
  isComplex: boolean,
  int: number,
  float: number,
  imag: number,
): NumberNode {
  return { type: 'number', pos, text, isInt, isUint, isFloat, isComplex, int, float, imag };
}

/** Fails the parse when it has built too many nodes or passed its deadline; sets when to look again. */
function checkParseEffort(state: ParseState, at: Item): void {
  const { maxNodes, deadline } = state.options;
  const fail = (reason: string, code: TemplateParseError['code']): never => {
    const where = at.line > 0 ? `${state.parseName}:${at.line}` : state.parseName;
    throw new ParseFailure(`template: ${where}: ${reason}`, reason, at.line, at.pos, code);
  };
  if (state.nodes > maxNodes) fail(`template has more than ${maxNodes} parse nodes`, TemplateErrorCode.TooMuchWork);
  if (deadline !== undefined && Date.now() > deadline) {
    fail('template parsing took longer than the time limit', TemplateErrorCode.TimeLimit);
  }
  state.checkNodesAt = Math.min(state.nodes + NODES_PER_CLOCK_CHECK, maxNodes);
}

function termString(n: Node): string {
  switch (n.type) {
    case 'bool':
      return n.value ? 'true' : 'false';
    case 'string':
      return n.quoted;
    case 'number':
      return n.text;
    case 'nil':
      return 'nil';
    default:
      return '.';
  }
}

function itemStringOfNode(n: Node): string {
  switch (n.type) {
    case 'end':
      return '{{end}}';
    case 'else':
      return '{{else}}';
    default:
      return n.type;
  }
}

export interface ParsedSource {
  /** Every template body by name; the top-level one under the template's own name. */
  readonly trees: ReadonlyMap<string, Tree>;
  /** Parse nodes built, in every tree. */
  readonly nodes: number;
}

/** Parses `text` as Go's template.New(name).Parse(text) does. Throws ParseFailure. */
export function parseSource(name: string, text: string, options: ParseOptions): ParsedSource {
  const state: ParseState = {
    parseName: name,
    stream: new ItemStream(null),
    treeSet: new Map(),
    options,
    nodes: 0,
    checkNodesAt: 0,
  };
  checkParseEffort(state, ZERO_ITEM); // a deadline already past fails before any work
  state.stream = new ItemStream(new ItemLexer(text, isPrintRune));
  const t = new TreeParser(name, state);
  t.parse();
  t.add();
  return { trees: state.treeSet, nodes: state.nodes };
}
