import { Compiler, type CompiledTemplate, type Execution } from './compiler';
import { TemplateErrorCode, TemplateExecutionError, TemplateParseError } from './errors';
import { goQuote } from './fmt';
import { FUNCTION_NAMES, redactedValueText, type ValueVerb } from './functions';
import { elseIfOf, nodeString, type BranchNode, type CommandNode, type Node, type PipeNode } from './nodes';
import { ParseFailure, parseSource, type ParsedSource, type Tree } from './parser';
import { compareGoStrings } from './values';

/** Limits that keep one template from exhausting the process; see README.md. */
export const TEMPLATE_LIMITS = Object.freeze({
  /** Largest source accepted, in UTF-8 bytes (ARCHITECTURE.md §2: template > 1 MiB is refused). */
  maxSourceBytes: 1024 * 1024,
  /** Largest output produced, in UTF-8 bytes. */
  maxOutputBytes: 10 * 1024 * 1024,
  /** Nesting of control structures and parenthesised pipelines (recent Go stops parentheses at 10000, too deep for a JS stack). */
  maxNesting: 100,
  /** `template` calls active at once (Go: 100000). */
  maxTemplateDepth: 1000,
  /** Nesting levels active at once across `template` calls: each call costs its body's nesting + 1. */
  maxActiveNesting: 3000,
  /**
   * Work units one execution may spend (README.md, Limits): one per UTF-16 unit a function reads from a string
   * argument or builds, per 16 printed, per range iteration, template call, assignment and node of each body
   * run. The worst shapes measured spend it in about 1 s of CPU.
   */
  maxWork: 15_000_000,
  /** Parse nodes in one source, all its templates together. */
  maxNodes: 250_000,
});

/** Work units between two looks at the clock when a deadline is set. */
const WORK_PER_CLOCK_CHECK = 1024;

export const DEFAULT_TEMPLATE_NAME = 'template';

export interface ExecuteOptions {
  /**
   * How an error message shows a value from the data where Go prints it (`range can't iterate over …`,
   * `non-comparable type …`, a `required` message built from data). Default: numbers and booleans as Go
   * prints them, strings, slices and maps named by type (`<redacted string>`), since they may be secrets.
   */
  readonly describeValue?: (value: unknown, verb: ValueVerb) => string;
  /**
   * Applied to the text each action prints (never to the template's literal text), e.g. an env file's
   * escaping of line breaks inside values. The template is compiled once more for it, on first use.
   */
  readonly escapePrinted?: (text: string) => string;
  /** Epoch milliseconds (Date.now() scale) after which execution fails with TIME_LIMIT. */
  readonly deadline?: number;
}

const noEscape = (text: string): string => text;

export interface ParseTemplateOptions {
  /** The name Go prints in errors (`template: NAME:1: …`); defaults to `template`. */
  readonly name?: string;
  /** Epoch milliseconds (Date.now() scale) after which parsing fails with TIME_LIMIT. */
  readonly deadline?: number;
}

/** Where a node sits, as Go's ErrorContext counts: 1-based line, column = UTF-8 bytes before it on its line. */
function locate(source: string, pos: number): { line: number; column: number } {
  const before = source.slice(0, pos);
  const lastNewline = before.lastIndexOf('\n');
  let line = 1;
  for (let i = before.indexOf('\n'); i >= 0; i = before.indexOf('\n', i + 1)) line++;
  return { line, column: Buffer.byteLength(before.slice(lastNewline + 1)) };
}

class TemplateExecution implements Execution {
  out = '';
  node: Node | null = null;
  templateName: string;
  vars: unknown[];
  depth = 0;
  checkOutputAt = Math.floor(TEMPLATE_LIMITS.maxOutputBytes / 3);
  private activeNesting = 0;
  private work = 0;
  /** Work at which the budget and the deadline are checked again. */
  private checkWorkAt: number;

  constructor(
    private readonly source: string,
    private readonly parseName: string,
    main: CompiledTemplate,
    data: unknown,
    private readonly describeValue: (value: unknown, verb: ValueVerb) => string,
    readonly escapePrinted: (text: string) => string,
    private readonly deadline: number | undefined,
  ) {
    this.templateName = main.name;
    this.vars = new Array(main.slots);
    this.vars[0] = data;
    this.checkWorkAt = deadline === undefined ? TEMPLATE_LIMITS.maxWork : 0;
  }

  describe(value: unknown, verb: ValueVerb): string {
    return this.describeValue(value, verb);
  }

  fail(reason: string, code: TemplateExecutionError['code'] = TemplateErrorCode.Execution): never {
    const name = this.templateName;
    const node = this.node;
    if (node === null) {
      throw new TemplateExecutionError(`template: ${name}: ${reason}`, reason, name, { line: 0, column: 0 }, code);
    }
    const where = locate(this.source, node.pos);
    const message = `template: ${this.parseName}:${where.line}:${where.column}: executing ${goQuote(name)} at <${nodeString(node)}>: ${reason}`;
    throw new TemplateExecutionError(message, reason, name, where, code);
  }

  outputTooLarge(): never {
    return this.fail(`output is larger than ${TEMPLATE_LIMITS.maxOutputBytes} bytes`, TemplateErrorCode.OutputTooLarge);
  }

  checkOutput(): void {
    const bytes = Buffer.byteLength(this.out);
    if (bytes > TEMPLATE_LIMITS.maxOutputBytes) this.outputTooLarge();
    // A UTF-16 unit is at most 3 UTF-8 bytes, so the limit cannot be crossed before this length.
    this.checkOutputAt = this.out.length + Math.max(1, Math.floor((TEMPLATE_LIMITS.maxOutputBytes - bytes) / 3));
  }

  enterTemplate(weight: number): void {
    if (
      this.depth >= TEMPLATE_LIMITS.maxTemplateDepth ||
      this.activeNesting + weight > TEMPLATE_LIMITS.maxActiveNesting
    ) {
      this.fail(`exceeded maximum template depth (${TEMPLATE_LIMITS.maxTemplateDepth})`, TemplateErrorCode.TooDeep);
    }
    this.depth++;
    this.activeNesting += weight;
  }

  leaveTemplate(weight: number): void {
    this.depth--;
    this.activeNesting -= weight;
  }

  charge(units: number): void {
    this.work += units;
    if (this.work > this.checkWorkAt) this.checkWork();
  }

  /** Fails past the work budget or the deadline; otherwise sets when to look again. */
  checkWork(): void {
    const maxWork = TEMPLATE_LIMITS.maxWork;
    if (this.work > maxWork) {
      const reason = `template execution exceeded its work budget (${maxWork} units): it produces or iterates too much`;
      this.fail(reason, TemplateErrorCode.TooMuchWork);
    }
    if (this.deadline === undefined) return;
    if (Date.now() > this.deadline) {
      this.fail('template execution took longer than the time limit', TemplateErrorCode.TimeLimit);
    }
    this.checkWorkAt = Math.min(this.work + WORK_PER_CLOCK_CHECK, maxWork);
  }
}

/** A parsed and compiled template; immutable and safe to execute concurrently with different data. */
export class Template {
  private readonly main: CompiledTemplate;
  private escapingMain: CompiledTemplate | undefined;
  private referenced: References | undefined;
  /** Heap this template retains, in bytes, estimated from its source and parse nodes (README.md, Limits). */
  readonly estimatedBytes: number;

  /** @internal use parseTemplate */
  constructor(
    readonly name: string,
    private readonly source: string,
    private readonly trees: ReadonlyMap<string, Tree>,
    compiled: ReadonlyMap<string, CompiledTemplate>,
    estimatedBytes: number,
    private readonly isChecked: (read: Node) => boolean = () => false,
  ) {
    this.main = compiled.get(name)!;
    this.estimatedBytes = estimatedBytes;
  }

  /** Renders with `data` (normally `{ Secrets: GoStringMap }`, as Distr passes it); throws TemplateExecutionError. */
  execute(data: unknown, options?: ExecuteOptions): string {
    if (data === null) data = undefined; // Go: reflect.ValueOf(nil) is no value
    const escape = options?.escapePrinted;
    const main = escape ? (this.escapingMain ??= this.compileEscaping()) : this.main;
    const describe = options?.describeValue ?? redactedValueText;
    const deadline = options?.deadline;
    const run = new TemplateExecution(this.source, this.name, main, data, describe, escape ?? noEscape, deadline);
    try {
      run.checkWork(); // a deadline already past fails before any work
      run.charge(main.cost);
      main.body(run, data);
    } catch (e) {
      // The limits keep the stack well inside Node's default; this only guards an unusually small one.
      if (e instanceof RangeError && /call stack/i.test(e.message)) {
        run.fail(`exceeded maximum template depth (${TEMPLATE_LIMITS.maxTemplateDepth})`, TemplateErrorCode.TooDeep);
      }
      throw e;
    }
    if (run.out.length > Math.floor(TEMPLATE_LIMITS.maxOutputBytes / 3)) run.checkOutput();
    return run.out;
  }

  private compileEscaping(): CompiledTemplate {
    return new Compiler(this.trees, { escapePrinted: true }).compileAll().get(this.name)!;
  }

  /** The `.Secrets` keys the template reads, sorted; `['*']` when it reads them dynamically. */
  references(): string[] {
    this.referenced ??= collectReferences(this.trees, this.isChecked);
    return [...this.referenced.keys];
  }

  /**
   * The referenced keys a render never needs: every read of each is checked (an `if`/`else if`/`with` condition,
   * `default`'s or `required`'s tested value) or sits in a branch that runs only when the key is set
   * (`{{ if .Secrets.K }}…{{ .Secrets.K }}…{{ end }}`), so a missing one fails no render. Sorted; empty when the
   * template reads secrets dynamically.
   */
  optionalReferences(): string[] {
    this.referenced ??= collectReferences(this.trees, this.isChecked);
    return [...this.referenced.optional];
  }
}

/** Bytes of heap per parse node, from `test/footprint` (README.md, Limits). */
const HEAP_PER_NODE = 600;

/** The heap a template keeps: its source (V8: a byte a character when ASCII; two counted otherwise) and nodes. */
function estimateBytes(source: string, utf8Bytes: number, nodes: number): number {
  return source.length * (utf8Bytes === source.length ? 1 : 2) + nodes * HEAP_PER_NODE;
}

/** Parses and compiles `source` as Go's `template.New(name).Parse(source)`; throws TemplateParseError. */
export function parseTemplate(source: string, options: ParseTemplateOptions = {}): Template {
  const name = options.name ?? DEFAULT_TEMPLATE_NAME;
  const bytes = Buffer.byteLength(source);
  if (bytes > TEMPLATE_LIMITS.maxSourceBytes) {
    const reason = `template is larger than ${TEMPLATE_LIMITS.maxSourceBytes} bytes (${bytes} bytes)`;
    throw new TemplateParseError(
      `template: ${name}: ${reason}`,
      reason,
      name,
      { line: 0, column: 0 },
      TemplateErrorCode.SourceTooLarge,
    );
  }
  let parsed: ParsedSource;
  try {
    parsed = parseSource(name, source, {
      functions: FUNCTION_NAMES,
      maxNesting: TEMPLATE_LIMITS.maxNesting,
      maxNodes: TEMPLATE_LIMITS.maxNodes,
      deadline: options.deadline,
    });
  } catch (e) {
    if (e instanceof ParseFailure) {
      const column = locate(source, e.pos).column;
      throw new TemplateParseError(e.message, e.reason, name, { line: e.line, column }, e.code);
    }
    throw e;
  }
  const { trees, nodes } = parsed;
  const compiler = new Compiler(trees);
  const compiled = compiler.compileAll();
  const { checkedReads, strictReads } = compiler;
  const isChecked = (read: Node) => checkedReads.has(read) && !strictReads.has(read);
  return new Template(name, source, trees, compiled, estimateBytes(source, bytes, nodes), isChecked);
}

// ---- references ----

interface References {
  readonly keys: readonly string[];
  readonly optional: readonly string[];
}

/** No key is known to be set. */
const NONE_SET: ReadonlySet<string> = new Set();

/**
 * `set`: keys whose values the enclosing branches ran only when truthy (so present); `dotIsData`: dot may be the
 * template's data here (outside with/range bodies), so a bare `.` exposes every secret.
 */
function collectReferences(trees: ReadonlyMap<string, Tree>, isChecked: (read: Node) => boolean): References {
  const keys = new Set<string>();
  const needed = new Set<string>();
  let dynamic = false;
  const secretsPath = (path: readonly string[], read: Node, set: ReadonlySet<string>, ofData: boolean): void => {
    if (path[0] !== 'Secrets') return;
    if (path.length === 1) return void (dynamic = true);
    keys.add(path[1]);
    if (!isChecked(read) && !(ofData && set.has(path[1]))) needed.add(path[1]);
  };
  const visit = (n: Node | null, dotIsData: boolean, set: ReadonlySet<string>): void => {
    if (n === null || dynamic) return;
    switch (n.type) {
      case 'field':
        return secretsPath(n.ident, n, set, dotIsData);
      case 'variable':
        if (n.ident.length === 1) {
          if (n.ident[0] === '$') dynamic = true;
        } else secretsPath(n.ident.slice(1), n, set, n.ident[0] === '$');
        return;
      case 'chain':
        visit(n.node, dotIsData, set);
        if (n.node.type === 'dot' || n.node.type === 'variable' || n.node.type === 'pipe') {
          secretsPath(n.field, n, set, false);
        } else if (n.node.type === 'identifier' && n.field[0] === 'Secrets') dynamic = true;
        return;
      case 'dot':
        if (dotIsData) dynamic = true;
        return;
      case 'list':
        return n.nodes.forEach((c) => visit(c, dotIsData, set));
      case 'action':
        return visit(n.pipe, dotIsData, set);
      case 'pipe':
        return visitPipe(n, dotIsData, set);
      case 'command':
        return n.args.forEach((a) => visit(a, dotIsData, set));
      case 'if':
      case 'with':
      case 'range': {
        // An `else if` chain is walked in a loop: chains may be far longer than the stack is deep.
        let branch: BranchNode | null = n;
        let known = set;
        while (branch !== null && !dynamic) {
          visitPipe(branch.pipe, dotIsData, known);
          const then = branch.type === 'range' ? known : withKeysSet(known, setWhenTrue(branch.pipe, dotIsData));
          visit(branch.list, branch.type === 'if' ? dotIsData : false, then);
          // Past a false condition (`if not .Secrets.K`), K is set in the `else if` links and the `else`.
          if (branch.type !== 'range') known = withKeysSet(known, setWhenFalse(branch.pipe, dotIsData));
          const next = elseIfOf(branch);
          if (next === null) visit(branch.elseList, dotIsData, known);
          branch = next;
        }
        return;
      }
      case 'template':
        return visit(n.pipe, dotIsData, set);
      default:
        return;
    }
  };
  const visitPipe = (p: PipeNode, dotIsData: boolean, set: ReadonlySet<string>): void =>
    p.cmds.forEach((c) => visit(c, dotIsData, set));
  for (const tree of trees.values()) visit(tree.root, true, NONE_SET);
  if (dynamic) return { keys: ['*'], optional: [] };
  return {
    keys: [...keys].sort(compareGoStrings),
    optional: [...keys].filter((key) => !needed.has(key)).sort(compareGoStrings),
  };
}

function withKeysSet(set: ReadonlySet<string>, more: readonly string[]): ReadonlySet<string> {
  return more.length === 0 ? set : new Set([...set, ...more]);
}

/**
 * The data's `.Secrets` keys a true condition proves set: the condition is `.Secrets.K` or `$.Secrets.K` itself,
 * or `and` of such (a missing key reads as the empty string, which is false).
 */
function setWhenTrue(pipe: PipeNode, dotIsData: boolean): string[] {
  return pipe.cmds.length === 1 ? truthyKeysOf(pipe.cmds[0], dotIsData) : [];
}

/** The keys a false condition proves set: the condition is `not` of `.Secrets.K` or `$.Secrets.K`. */
function setWhenFalse(pipe: PipeNode, dotIsData: boolean): string[] {
  if (pipe.cmds.length !== 1) return [];
  const [head, ...args] = pipe.cmds[0].args;
  return head.type === 'identifier' && head.ident === 'not' && args.length === 1 ? keyReadBy(args[0], dotIsData) : [];
}

function truthyKeysOf(command: CommandNode, dotIsData: boolean): string[] {
  const [head, ...args] = command.args;
  if (args.length === 0) return keyReadBy(head, dotIsData);
  if (head.type === 'identifier' && head.ident === 'and') return args.flatMap((a) => keyReadBy(a, dotIsData));
  return [];
}

function keyReadBy(n: Node, dotIsData: boolean): string[] {
  if (n.type === 'field' && dotIsData && n.ident.length === 2 && n.ident[0] === 'Secrets') return [n.ident[1]];
  if (n.type === 'variable' && n.ident.length === 3 && n.ident[0] === '$' && n.ident[1] === 'Secrets') {
    return [n.ident[2]];
  }
  if (n.type === 'pipe' && n.decl.length === 0) return setWhenTrue(n, dotIsData);
  return [];
}
