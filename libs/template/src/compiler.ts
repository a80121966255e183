// Compiles parse trees into closures once; executing walks no tree and allocates only what Go's executor would.
// Each closure mirrors a function of Go's exec.go, including where it records the node that errors will name.
import { ResultTooLarge, goQuote, printOne } from './fmt';
import {
  CHECKED_ARGUMENT,
  CHECKS_PRESENCE,
  CONDITION_OPERATORS,
  DataText,
  FUNCTIONS,
  FunctionError,
  PARAM_TYPE_NAMES,
  SHORT_CIRCUIT,
  errorText,
  type ErrorParts,
  type ParamType,
  type ValueVerb,
} from './functions';
import type {
  BranchNode,
  ChainNode,
  CommandNode,
  FieldNode,
  IdentifierNode,
  ListNode,
  Node,
  NumberNode,
  PipeNode,
  TemplateNode,
  VariableNode,
} from './nodes';
import { elseIfOf, nodeString } from './nodes';
import type { Tree } from './parser';
import { LexicalScope } from './scope';
import {
  GoComplex,
  GoFloat,
  GoStringMap,
  InterfaceValue,
  isMap,
  isTrue,
  mapGet,
  mapHas,
  mapZero,
  sortedKeys,
  typeName,
} from './values';

/** What a statement returns: carry on, or unwind to the enclosing range. */
export const enum Flow {
  Normal = 0,
  Break = 1,
  Continue = 2,
}

/** The executor's state; one per execute call, shared by nested template invocations. */
export interface Execution {
  out: string;
  /** The node Go's `s.at(node)` last recorded: errors name it. */
  node: Node | null;
  /** Name of the template being executed (a `define`d name inside one). */
  templateName: string;
  /** Variable slots of the template invocation being executed; slot 0 is `$`. */
  vars: unknown[];
  /** Output length at which the output size has to be checked again. */
  checkOutputAt: number;
  /** Raises Go's execution error for `reason` at `node`. */
  fail(reason: string): never;
  /** A value from the data as an error message shows it (ExecuteOptions.describeValue). */
  describe(value: unknown, verb: ValueVerb): string;
  /** Applied to each action's printed text when the template was compiled with `escapePrinted`. */
  escapePrinted(text: string): string;
  checkOutput(): void;
  /** Fails: the output would exceed its limit. */
  outputTooLarge(): never;
  /** Enters a template invocation; fails when too deep. */
  enterTemplate(weight: number): void;
  leaveTemplate(weight: number): void;
  /** Spends work units; fails past the work budget or the deadline. */
  charge(units: number): void;
}

export type Statement = (s: Execution, dot: unknown) => Flow;
type Expression = (s: Execution, dot: unknown) => unknown;
/** Like Expression, with the previous pipeline command's value as final argument (or MISSING). */
type Command = (s: Execution, dot: unknown, final: unknown) => unknown;

/** Go's `missingVal`: no value was piped in. */
const MISSING = Symbol('missing');

export interface CompiledTemplate {
  readonly name: string;
  /** Variables of one invocation ($ included), known once the body is compiled. */
  slots: number;
  readonly nesting: number;
  /** Work units a run of the body costs by itself: its nodes, plus one for the call. */
  cost: number;
  /** Filled in after every template exists, so calls can refer to templates defined later. */
  body: Statement;
}

/** A compiled list and the work units one run of it costs by itself (nested blocks charge their own). */
interface Block {
  readonly run: Statement;
  readonly cost: number;
}

/**
 * Work units to print `text`: appending is a copy at memory speed, which the output limit bounds anyway, so a
 * unit covers 16 characters where a function's per-character loop pays one each.
 */
const printCost = (text: string): number => 1 + (text.length >>> 4);

/** Functions whose string result is (part of) an argument, not new text: it costs nothing more to return. */
const RETURNS_ARGUMENT: ReadonlySet<string> = new Set(['index', 'slice', 'default', 'required']);

/**
 * The static Go type of a value, where an error names it: CONCRETE (the value's own type), INTERFACE
 * (`interface {}`: an element of a []interface{} or map[string]interface{}), or, for what a range sets, the
 * slot (≥ 0) where that range records whether it iterates a map[string]string: `interface {}` unless it does.
 */
type StaticType = number;
const CONCRETE = -1;
const INTERFACE = -2;

/** Whether a value of static type `type` is an `interface {}` in this execution. */
const isInterfaceAt = (s: Execution, type: StaticType): boolean =>
  type === INTERFACE || (type >= 0 && s.vars[type] !== true);

/** Static facts about one variable slot. */
interface Slot {
  readonly name: string;
  readonly index: number;
  /** A range's element variable has the range's slot: `interface {}` unless it iterates a map[string]string. */
  type: StaticType;
  /** False for a name the parser accepted but nothing declared (`{{$x = 1}}` alone): Go fails when it runs. */
  readonly defined: boolean;
}

interface Scope {
  slots: Slot[];
  visible: LexicalScope<Slot>;
  dotType: StaticType;
}

const hasOwn = Object.prototype.hasOwnProperty;

export interface CompileOptions {
  /** Actions pass their printed text through `Execution.escapePrinted`; literal text is written as it is. */
  readonly escapePrinted?: boolean;
}

export class Compiler {
  private readonly compiled = new Map<string, CompiledTemplate>();
  /**
   * Field, variable and chain nodes compiled where a missing map key reads as empty (checked), and where it
   * fails (printed); a template's optional references are told apart by them.
   */
  readonly checkedReads = new Set<Node>();
  readonly strictReads = new Set<Node>();
  /** Nodes compiled so far into the block being compiled: what running it once costs, nested blocks aside. */
  private cost = 0;

  constructor(
    private readonly trees: ReadonlyMap<string, Tree>,
    private readonly options: CompileOptions = {},
  ) {}

  compileAll(): ReadonlyMap<string, CompiledTemplate> {
    for (const [name, tree] of this.trees) {
      this.compiled.set(name, { name, slots: 0, nesting: tree.nesting, cost: 1, body: () => Flow.Normal });
    }
    for (const [name, tree] of this.trees) {
      const scope: Scope = { slots: [], visible: new LexicalScope(), dotType: CONCRETE };
      this.declare(scope, '$', CONCRETE);
      const body = this.block(tree.root, scope);
      const target = this.compiled.get(name)!;
      target.slots = scope.slots.length;
      target.body = body.run;
      target.cost = body.cost + 1;
    }
    return this.compiled;
  }

  // ---- scopes ----

  private declare(scope: Scope, name: string, type: StaticType, defined = true): Slot {
    const slot: Slot = { name, index: scope.slots.length, type, defined };
    scope.slots.push(slot);
    scope.visible.push(name, slot);
    return slot;
  }

  /** A slot no variable names, for the executor's own bookkeeping. */
  private hiddenSlot(scope: Scope): number {
    const index = scope.slots.length;
    scope.slots.push({ name: '', index, type: CONCRETE, defined: true });
    return index;
  }

  private lookup(scope: Scope, name: string): Slot {
    const slot = scope.visible.get(name);
    if (slot !== undefined) return slot;
    // Declared by the parser but not yet at run time (`{{$x := $x}}`): Go fails when it reads it.
    return { name, index: -1, type: CONCRETE, defined: false };
  }

  // ---- statements (walk) ----

  private block(list: ListNode, scope: Scope): Block {
    const outer = this.cost;
    this.cost = 0;
    const run = this.list(list, scope);
    const cost = this.cost;
    this.cost = outer;
    return { run, cost };
  }

  private list(list: ListNode, scope: Scope): Statement {
    const parts = list.nodes.map((n) => this.statement(n, scope)).filter((p): p is Statement => p !== null);
    if (parts.length === 0) return () => Flow.Normal;
    if (parts.length === 1) return parts[0];
    if (parts.length === 2) {
      const [a, b] = parts;
      return (s, dot) => a(s, dot) || b(s, dot);
    }
    return (s, dot) => {
      for (let i = 0; i < parts.length; i++) {
        const flow = parts[i](s, dot);
        if (flow !== Flow.Normal) return flow;
      }
      return Flow.Normal;
    };
  }

  private statement(node: Node, scope: Scope): Statement | null {
    this.cost++;
    switch (node.type) {
      case 'text': {
        const text = node.text;
        this.cost += printCost(text);
        return (s) => {
          s.out += text;
          if (s.out.length > s.checkOutputAt) s.checkOutput();
          return Flow.Normal;
        };
      }
      case 'comment':
        return null;
      case 'action':
        return this.action(node.pipe, node, scope);
      case 'if':
      case 'with':
        return this.ifOrWith(node, scope);
      case 'range':
        return this.range(node, scope);
      case 'template':
        return this.template(node, scope);
      case 'break':
        return () => Flow.Break;
      case 'continue':
        return () => Flow.Continue;
      case 'list':
        return this.list(node, scope);
      default:
        throw new Error(`internal: unexpected node ${node.type}`);
    }
  }

  private action(pipe: PipeNode, node: Node, scope: Scope): Statement {
    const value = this.pipeline(pipe, scope, false);
    if (pipe.decl.length > 0) {
      return (s, dot) => {
        value(s, dot);
        return Flow.Normal;
      };
    }
    if (this.options.escapePrinted) {
      // A separate closure, so templates executed without escaping pay nothing per print.
      return (s, dot) => {
        const v = value(s, dot);
        s.node = node;
        let text: string;
        if (typeof v === 'string') text = v;
        else if (v === undefined) text = '<no value>';
        else if (typeof v === 'function') return s.fail(`can't print ${nodeText(node)} of type ${typeName(v)}`);
        else text = printOne(v);
        text = s.escapePrinted(text);
        s.charge(printCost(text));
        s.out += text;
        if (s.out.length > s.checkOutputAt) s.checkOutput();
        return Flow.Normal;
      };
    }
    return (s, dot) => {
      const v = value(s, dot);
      s.node = node;
      let text: string;
      if (typeof v === 'string') text = v;
      else if (v === undefined) text = '<no value>';
      else if (typeof v === 'function') return s.fail(`can't print ${nodeText(node)} of type ${typeName(v)}`);
      else text = printOne(v);
      s.charge(printCost(text));
      s.out += text;
      if (s.out.length > s.checkOutputAt) s.checkOutput();
      return Flow.Normal;
    };
  }

  /** An `if`/`with` and its `else if` chain, compiled and run as a loop over the links (no recursion per link). */
  private ifOrWith(node: BranchNode, scope: Scope): Statement {
    const mark = scope.visible.mark();
    const conditions: Expression[] = [];
    const thens: Statement[] = [];
    const thenCosts: number[] = [];
    const withs: boolean[] = [];
    let link: BranchNode = node;
    for (;;) {
      conditions.push(this.pipeline(link.pipe, scope, true));
      const isWith = link.type === 'with';
      const outerDotType = scope.dotType;
      if (isWith) scope.dotType = CONCRETE; // a pipeline's value is never an interface{}: Go unwraps it
      const then = this.block(link.list, scope);
      thens.push(then.run);
      thenCosts.push(then.cost);
      scope.dotType = outerDotType;
      withs.push(isWith);
      const next = elseIfOf(link);
      if (next === null) break;
      link = next;
    }
    const otherwise = link.elseList ? this.block(link.elseList, scope) : null;
    scope.visible.pop(mark);
    const otherwiseCost = otherwise ? otherwise.cost : 0;
    if (conditions.length === 1) {
      const [condition, then, thenCost, isWith] = [conditions[0], thens[0], thenCosts[0], withs[0]];
      return (s, dot) => {
        const v = condition(s, dot);
        if (isTrue(v)) {
          s.charge(thenCost);
          return then(s, isWith ? v : dot);
        }
        if (otherwise === null) return Flow.Normal;
        s.charge(otherwiseCost);
        return otherwise.run(s, dot);
      };
    }
    return (s, dot) => {
      for (let i = 0; i < conditions.length; i++) {
        const v = conditions[i](s, dot);
        if (isTrue(v)) {
          s.charge(thenCosts[i]);
          return thens[i](s, withs[i] ? v : dot);
        }
      }
      if (otherwise === null) return Flow.Normal;
      s.charge(otherwiseCost);
      return otherwise.run(s, dot);
    };
  }

  private range(node: BranchNode, scope: Scope): Statement {
    const mark = scope.visible.mark();
    const value = this.pipeline(node.pipe, scope, false);
    const decl = node.pipe.decl.map((d) => this.lookup(scope, d.ident[0]).index);
    // The slots the pipeline declared hold the element (last) and the key (first of two).
    const elemSlot = decl.length > 0 ? decl[decl.length - 1] : -1;
    const keySlot = decl.length > 1 ? decl[0] : -1;
    // Elements are interface{} unless the range iterates a map[string]string, which it records here.
    const stringMapSlot = this.hiddenSlot(scope);
    if (elemSlot >= 0) scope.slots[elemSlot].type = stringMapSlot;
    const outerDotType = scope.dotType;
    scope.dotType = stringMapSlot;
    const body = this.block(node.list, scope);
    scope.dotType = outerDotType;
    const otherwise = node.elseList ? this.block(node.elseList, scope) : null;
    scope.visible.pop(mark);
    const run = body.run;
    // An iteration costs its body's nodes, one for itself and its variables.
    const iterationCost = body.cost + 1 + decl.length;

    const iterate = (s: Execution, key: unknown, elem: unknown): Flow => {
      s.charge(iterationCost);
      if (elemSlot >= 0) s.vars[elemSlot] = elem;
      if (keySlot >= 0) s.vars[keySlot] = key;
      return run(s, elem);
    };
    return (s, dot) => {
      s.node = node;
      const v = value(s, dot);
      if (Array.isArray(v)) {
        if (v.length > 0) {
          s.vars[stringMapSlot] = false;
          for (let i = 0; i < v.length; i++) if (iterate(s, i, v[i] ?? null) === Flow.Break) break;
          return Flow.Normal;
        }
      } else if (isMap(v)) {
        const keys = sortedKeys(v);
        s.charge(keys.length);
        if (keys.length > 0) {
          s.vars[stringMapSlot] = v instanceof GoStringMap;
          for (const k of keys) if (iterate(s, k, mapGet(v, k) ?? null) === Flow.Break) break;
          return Flow.Normal;
        }
      } else if (v !== undefined && v !== null) {
        s.fail(`range can't iterate over ${s.describe(v, '%v')}`);
      }
      if (otherwise === null) return Flow.Normal;
      s.charge(otherwise.cost);
      return otherwise.run(s, dot);
    };
  }

  private template(node: TemplateNode, scope: Scope): Statement {
    const value: Expression | null = node.pipe ? this.pipeline(node.pipe, scope, false) : null;
    const compiled = this.compiled;
    const name = node.name;
    const notDefined = `template ${goQuote(name)} not defined`;
    return (s, dot) => {
      s.node = node;
      const callee = compiled.get(name);
      if (callee === undefined) return s.fail(notDefined);
      const weight = callee.nesting + 1;
      s.charge(callee.cost);
      s.enterTemplate(weight);
      const newDot = value ? value(s, dot) : undefined;
      const savedVars = s.vars;
      const savedName = s.templateName;
      s.vars = new Array(callee.slots);
      s.vars[0] = newDot;
      s.templateName = callee.name;
      callee.body(s, newDot); // an error abandons the whole execution, so nothing to restore then
      s.vars = savedVars;
      s.templateName = savedName;
      s.leaveTemplate(weight);
      return Flow.Normal;
    };
  }

  // ---- pipelines and commands (evalPipeline, evalCommand) ----

  /**
   * `checked`: the pipeline's value is tested rather than printed (an if/with condition, or an argument of
   * a presence check), so a missing map key there reads as empty (ARCHITECTURE.md §7).
   */
  private pipeline(pipe: PipeNode, scope: Scope, checked: boolean): Expression {
    this.cost += 1 + pipe.decl.length;
    const commands = pipe.cmds.map((cmd, i) => {
      const next = pipe.cmds[i + 1];
      const commandChecked = next === undefined ? checked : receivesCheckedInput(next, checked);
      return this.command(cmd, scope, commandChecked);
    });
    for (const v of pipe.decl) {
      if (!pipe.isAssign) this.declare(scope, v.ident[0], CONCRETE);
      else if (!this.lookup(scope, v.ident[0]).defined) this.declare(scope, v.ident[0], CONCRETE, false);
    }
    const targets = pipe.decl.map((v) => this.lookup(scope, v.ident[0]));
    const undefinedTarget = targets.find((t) => !t.defined);
    if (undefinedTarget) return failingPipeline(pipe, commands, `undefined variable: ${undefinedTarget.name}`);
    const slots = targets.map((t) => t.index);
    if (commands.length === 1 && slots.length === 0) return singleCommandPipeline(pipe, commands[0]);
    return assigningPipeline(pipe, commands, slots);
  }

  private command(cmd: CommandNode, scope: Scope, checked: boolean): Command {
    this.cost++;
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.fieldNode(first, cmd.args, scope, checked);
      case 'chain':
        return this.chainNode(first, cmd.args, scope, checked);
      case 'identifier':
        return this.functionCall(first, cmd, cmd.args, scope, checked);
      case 'pipe': {
        const inner = this.pipeline(first, scope, checked);
        const notAFunction = this.notAFunction(cmd.args);
        return (s, dot, final) => {
          notAFunction(s, final);
          return inner(s, dot);
        };
      }
      case 'variable':
        return this.variableNode(first, cmd.args, scope, checked);
    }
    const notAFunction = this.notAFunction(cmd.args);
    switch (first.type) {
      case 'bool': {
        const v = first.value;
        return (s, _dot, final) => {
          s.node = first;
          notAFunction(s, final);
          return v;
        };
      }
      case 'dot':
        return (s, dot, final) => {
          s.node = first;
          notAFunction(s, final);
          return dot;
        };
      case 'nil':
        return (s, _dot, final) => {
          s.node = first;
          notAFunction(s, final);
          return s.fail('nil is not a command');
        };
      case 'number': {
        const constant = this.idealConstant(first);
        const value = 'value' in constant ? constant.value : undefined;
        const error = 'error' in constant ? constant.error : null;
        return (s, _dot, final) => {
          s.node = first;
          notAFunction(s, final);
          return error === null ? value : s.fail(error);
        };
      }
      case 'string': {
        const text = first.text;
        return (s, _dot, final) => {
          s.node = first;
          notAFunction(s, final);
          return text;
        };
      }
    }
    throw new Error(`internal: can't evaluate command ${first.type}`);
  }

  private notAFunction(args: readonly Node[]): (s: Execution, final: unknown) => void {
    if (args.length === 0) return () => undefined;
    const fail = (s: Execution): never => s.fail(`can't give argument to non-function ${nodeText(args[0])}`);
    if (args.length > 1) return fail;
    return (s, final) => {
      if (final !== MISSING) fail(s);
    };
  }

  /** Go's idealConstant: the number's value, or the error evaluating it raises. */
  private idealConstant(n: NumberNode): { readonly value: unknown } | { readonly error: string } {
    const isHexInt = /^0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isComplex) return { value: new GoComplex(n.float, n.imag) };
    if (n.isFloat && !isHexInt && n.text[0] !== "'" && /[.eEpP]/.test(n.text)) return { value: new GoFloat(n.float) };
    if (n.isInt) return { value: n.int };
    if (n.isUint) return { error: `${n.text} overflows int` };
    return { value: undefined };
  }

  // ---- fields, chains, variables ----

  /**
   * `keepInterface`: the value is passed on as Go passes a container's element to a reflect.Value parameter,
   * still wrapped in its interface{} when it has one (only `slice` tells the difference).
   */
  private fieldNode(
    field: FieldNode,
    args: readonly Node[],
    scope: Scope,
    lenient: boolean,
    keepInterface = false,
  ): Command {
    const chain = this.fieldChain(field, field.ident, args, lenient, scope.dotType, keepInterface);
    const ident = field.ident;
    // The common case, `.Secrets.KEY` on maps, without generic chain machinery.
    if (ident.length === 2 && args.length <= 1 && !keepInterface) {
      const [outer, inner] = ident;
      return (s, dot, final) => {
        s.node = field;
        if (final === MISSING && dot !== null && typeof dot === 'object' && !Array.isArray(dot)) {
          const proto = Object.getPrototypeOf(dot) as unknown;
          if (proto === Object.prototype || proto === null) {
            const m = (dot as Record<string, unknown>)[outer];
            if (typeof m === 'object' && m !== null && hasOwn.call(dot, outer)) {
              const mp = Object.getPrototypeOf(m) as unknown;
              if (mp === Object.prototype || mp === null) {
                const v = (m as Record<string, unknown>)[inner];
                if (v !== undefined && hasOwn.call(m, inner)) return v;
              } else if (mp === GoStringMap.prototype) {
                const v = (m as GoStringMap).get(inner);
                if (v !== undefined) return v;
              }
            }
          }
        }
        return chain(s, dot, dot, final);
      };
    }
    return (s, dot, final) => {
      s.node = field;
      return chain(s, dot, dot, final);
    };
  }

  private chainNode(
    chain: ChainNode,
    args: readonly Node[],
    scope: Scope,
    lenient: boolean,
    keepInterface = false,
  ): Command {
    const receiverType = chain.node.type === 'identifier' && chain.node.ident === 'index' ? INTERFACE : CONCRETE;
    const fields = this.fieldChain(chain, chain.field, args, lenient, receiverType, keepInterface);
    if (chain.node.type === 'nil') {
      const message = `indirection through explicit nil in ${nodeText(chain)}`;
      return (s) => {
        s.node = chain;
        return s.fail(message);
      };
    }
    const receiver = this.arg(chain.node, null, scope, lenient);
    return (s, dot, final) => {
      s.node = chain;
      return fields(s, dot, receiver(s, dot), final);
    };
  }

  private variableNode(
    variable: VariableNode,
    args: readonly Node[],
    scope: Scope,
    lenient: boolean,
    keepInterface = false,
  ): Command {
    const slot = this.lookup(scope, variable.ident[0]);
    const index = slot.index;
    if (!slot.defined) {
      const message = `undefined variable: ${slot.name}`;
      return (s) => {
        s.node = variable;
        return s.fail(message);
      };
    }
    if (variable.ident.length === 1) {
      const notAFunction = this.notAFunction(args);
      const type = keepInterface ? slot.type : CONCRETE;
      return (s, _dot, final) => {
        s.node = variable;
        notAFunction(s, final);
        const v = s.vars[index];
        return type !== CONCRETE && isInterfaceAt(s, type) ? new InterfaceValue(v) : v;
      };
    }
    const chain = this.fieldChain(variable, variable.ident.slice(1), args, lenient, slot.type, keepInterface);
    return (s, dot, final) => {
      s.node = variable;
      return chain(s, dot, s.vars[index], final);
    };
  }

  /**
   * Go's evalFieldChain + evalField over maps (our data has no structs or methods). `receiverType` is the
   * static type of the first receiver; each later one is an element of the map before it: `interface {}`, or
   * `string` when that map is a map[string]string.
   */
  private fieldChain(
    node: Node,
    ident: readonly string[],
    args: readonly Node[] | null,
    lenient: boolean,
    receiverType: StaticType,
    keepInterface: boolean,
  ): (s: Execution, dot: unknown, receiver: unknown, final: unknown) => unknown {
    (lenient ? this.checkedReads : this.strictReads).add(node);
    const lastHasArgs = args !== null && args.length > 1;
    const names = [...ident];
    this.cost += names.length;
    return (s, _dot, receiver, final) => {
      let fromStringMap = false;
      for (let i = 0; i < names.length; i++) {
        const name = names[i];
        const last = i === names.length - 1;
        if (receiver === undefined) {
          if (!lenient) s.fail(`nil data; no entry for key ${goQuote(name)}`);
          return undefined;
        }
        if (receiver === null) s.fail(`nil pointer evaluating interface {}.${name}`);
        if (isMap(receiver)) {
          if (last && (lastHasArgs || final !== MISSING)) s.fail(`${name} is not a method but has arguments`);
          fromStringMap = receiver instanceof GoStringMap;
          if (mapHas(receiver, name)) {
            const v = mapGet(receiver, name);
            receiver = v === undefined ? null : v;
          } else {
            if (!lenient) s.fail(`map has no entry for key ${goQuote(name)}`);
            receiver = mapZero(receiver);
          }
          continue;
        }
        const isInterface = i > 0 ? !fromStringMap : isInterfaceAt(s, receiverType);
        s.fail(`can't evaluate field ${name} in type ${isInterface ? 'interface {}' : typeName(receiver)}`);
      }
      return keepInterface && !fromStringMap ? new InterfaceValue(receiver) : receiver;
    };
  }

  // ---- function calls (evalFunction, evalCall, evalArg) ----

  private functionCall(
    ident: IdentifierNode,
    node: Node,
    args: readonly Node[] | null,
    scope: Scope,
    checked: boolean,
  ): Command {
    const name = ident.ident;
    const fn = FUNCTIONS.get(name);
    if (fn === undefined) {
      return (s) => {
        s.node = ident;
        return s.fail(`${goQuote(name)} is not a defined function`);
      };
    }
    const argNodes = args === null ? [] : args.slice(1);
    // Only the value a presence check tests is lenient (`default`'s given value, `required`'s val), never its
    // default or message; inside a condition every argument of and/or/not/eq… is.
    const conditionArgs = checked && CONDITION_OPERATORS.has(name);
    const presenceCheck = CHECKS_PRESENCE.has(name);
    const lenientArg = (i: number): boolean => conditionArgs || (presenceCheck && i === CHECKED_ARGUMENT);
    // `required`'s message is an error text; built from data, it is a value and shown as one.
    const messageFromData = name === 'required' && argNodes.length > 0 && argNodes[0].type !== 'string';
    const { params, variadic } = fn;
    const numParams = params.length;
    const numFixed = variadic ? numParams - 1 : argNodes.length;
    const paramAt = (i: number): ParamType => (variadic && i >= numParams - 1 ? params[numParams - 1] : params[i]);
    // Go's slice reads its indexes without unwrapping interfaces, so an element of a []interface{} or a
    // map[string]interface{} there is refused as an `interface {}`.
    const compiledArgs = argNodes.map((a, i) =>
      this.arg(a, paramAt(i), scope, lenientArg(i), name === 'slice' && i > 0),
    );
    const finalType = (numIn: number): ParamType => {
      if (!variadic) return params[numParams - 1];
      return numIn - 1 < numFixed ? params[numIn - 1] : params[numParams - 1];
    };
    const finalTypeWithFinal = finalType(argNodes.length + 1);
    const callerNode = node;

    const arity = (s: Execution, hasFinal: boolean): void => {
      const numIn = argNodes.length + (hasFinal ? 1 : 0);
      if (variadic) {
        if (numIn < numFixed) {
          s.fail(`wrong number of args for ${name}: want at least ${numParams - 1} got ${argNodes.length}`);
        }
      } else if (numIn !== numParams) s.fail(`wrong number of args for ${name}: want ${numParams} got ${numIn}`);
    };

    if (SHORT_CIRCUIT.has(name)) {
      const isOr = name === 'or';
      return (s, dot, final) => {
        s.node = ident;
        arity(s, final !== MISSING);
        let v: unknown;
        for (let i = 0; i < compiledArgs.length; i++) {
          v = compiledArgs[i](s, dot);
          if (isTrue(v) === isOr) return v;
        }
        if (final !== MISSING) v = final;
        return v;
      };
    }

    const call = fn.call;
    const resultIsNew = !RETURNS_ARGUMENT.has(name);
    return (s, dot, final) => {
      s.node = ident;
      const hasFinal = final !== MISSING;
      arity(s, hasFinal);
      const argv: unknown[] = new Array(compiledArgs.length + (hasFinal ? 1 : 0));
      // A call costs one unit, one per UTF-16 unit of each string it reads and of the string it builds.
      let units = 1;
      for (let i = 0; i < compiledArgs.length; i++) {
        const a = compiledArgs[i](s, dot);
        if (typeof a === 'string') units += a.length;
        argv[i] = a;
      }
      if (hasFinal) {
        const a = validateType(s, final, finalTypeWithFinal);
        if (typeof a === 'string') units += a.length;
        argv[compiledArgs.length] = a;
      }
      s.charge(units);
      try {
        const result = call(argv);
        if (resultIsNew && typeof result === 'string') s.charge(result.length);
        return result;
      } catch (e) {
        if (e instanceof FunctionError) {
          s.node = callerNode;
          const parts: ErrorParts = messageFromData ? [new DataText(e.message, '%s')] : e.parts;
          s.fail(`error calling ${name}: ${errorText(parts, (v, verb) => s.describe(v, verb))}`);
        }
        if (e instanceof ResultTooLarge) s.outputTooLarge();
        throw e;
      }
    };
  }

  /**
   * Go's evalArg: evaluates an argument for a parameter of type `typ` (null: no type, as for chains).
   * `keepInterface`: an element of a container stays wrapped in its interface{} (see fieldNode).
   */
  private arg(n: Node, typ: ParamType | null, scope: Scope, lenient: boolean, keepInterface = false): Expression {
    this.cost++;
    switch (n.type) {
      case 'dot':
        return dotArgument(n, typ, keepInterface ? scope.dotType : CONCRETE);
      case 'nil':
        // A nil interface{}, or for reflect.Value parameters the zero Value (no value).
        if (typ === 'any') return constantAt(n, null);
        if (typ === 'value' || typ === null) return constantAt(n, undefined);
        return this.failAt(n, `cannot assign nil to ${PARAM_TYPE_NAMES[typ]}`);
      case 'field':
        return typeChecked(withoutInput(this.fieldNode(n, [n], scope, lenient, keepInterface)), typ);
      case 'variable':
        return typeChecked(withoutInput(this.variableNode(n, [], scope, lenient, keepInterface)), typ);
      case 'pipe':
        return typeChecked(this.pipeline(n, scope, lenient), typ);
      case 'identifier': {
        const call = withoutInput(this.functionCall(n, n, null, scope, lenient));
        // `index` alone returns an element as it is (it fails first: it needs an argument).
        const value: Expression =
          keepInterface && n.ident === 'index' ? (s, dot) => new InterfaceValue(call(s, dot)) : call;
        return typeChecked(value, typ);
      }
      case 'chain':
        return typeChecked(withoutInput(this.chainNode(n, [], scope, lenient, keepInterface)), typ);
    }
    switch (typ) {
      case 'string':
        if (n.type === 'string') return constantAt(n, n.text);
        return this.failAt(n, `expected string; found ${nodeText(n)}`);
      case 'int':
        if (n.type === 'number' && n.isInt) return constantAt(n, n.int);
        return this.failAt(n, `expected integer; found ${nodeText(n)}`);
      default:
        return this.emptyInterface(n);
    }
  }

  private failAt(n: Node, reason: string): Expression {
    return (s) => {
      s.node = n;
      return s.fail(reason);
    };
  }

  /** Go's evalEmptyInterface for the literal arguments. */
  private emptyInterface(n: Node): Expression {
    switch (n.type) {
      case 'bool':
        return constantAt(n, n.value);
      case 'string':
        return constantAt(n, n.text);
      case 'number': {
        const constant = this.idealConstant(n);
        return 'value' in constant ? constantAt(n, constant.value) : this.failAt(n, constant.error);
      }
    }
    return this.failAt(n, `can't handle assignment of ${nodeText(n)} to empty interface argument`);
  }
}

// Pipelines are built outside the compiler's methods so each closure keeps only what it uses (heap per node).

function failingPipeline(pipe: PipeNode, commands: readonly Command[], message: string): Expression {
  return (s, dot) => {
    s.node = pipe;
    let value: unknown = MISSING;
    for (let i = 0; i < commands.length; i++) value = commands[i](s, dot, value);
    return s.fail(message);
  };
}

function singleCommandPipeline(pipe: PipeNode, only: Command): Expression {
  return (s, dot) => {
    s.node = pipe;
    const v = only(s, dot, MISSING);
    return v === null ? undefined : v;
  };
}

function assigningPipeline(pipe: PipeNode, commands: readonly Command[], slots: readonly number[]): Expression {
  return (s, dot) => {
    s.node = pipe;
    let value: unknown = MISSING;
    for (let i = 0; i < commands.length; i++) {
      value = commands[i](s, dot, value);
      if (value === null) value = undefined; // Go: a nil interface{} result is no value
    }
    if (slots.length > 0) {
      s.charge(slots.length);
      for (let i = 0; i < slots.length; i++) s.vars[slots[i]] = value;
    }
    return value;
  };
}

/** A command evaluated as an argument: nothing is piped into it. */
function withoutInput(command: Command): Expression {
  return (s, dot) => command(s, dot, MISSING);
}

/** Go's evalArg check of an argument's value against its parameter type (none for chains). */
function typeChecked(inner: Expression, typ: ParamType | null): Expression {
  if (typ === null) return inner;
  return (s, dot) => validateType(s, inner(s, dot), typ);
}

function dotArgument(n: Node, typ: ParamType | null, dotType: StaticType): Expression {
  if (dotType !== CONCRETE) {
    return (s, dot) => {
      s.node = n;
      const v = isInterfaceAt(s, dotType) ? new InterfaceValue(dot) : dot;
      return typ === null ? v : validateType(s, v, typ);
    };
  }
  return (s, dot) => {
    s.node = n;
    return typ === null ? dot : validateType(s, dot, typ);
  };
}

/** An expression that records `n` as Go's current node and yields a constant. */
function constantAt(n: Node, value: unknown): Expression {
  return (s) => {
    s.node = n;
    return value;
  };
}

/**
 * Whether a command's value, piped into `next`, is checked rather than printed: the value a presence check
 * tests (piped input is the final argument, so `default`/`required` with one argument of their own), or an
 * operand of a condition operator inside a condition.
 */
function receivesCheckedInput(next: CommandNode, checked: boolean): boolean {
  const head = next.args[0];
  if (head.type !== 'identifier') return false;
  if (CHECKS_PRESENCE.has(head.ident)) return next.args.length - 1 === CHECKED_ARGUMENT;
  return checked && CONDITION_OPERATORS.has(head.ident);
}

/** Go's validateType for our parameter types. */
function validateType(s: Execution, value: unknown, typ: ParamType): unknown {
  if (value === undefined) {
    if (typ === 'any') return null;
    if (typ === 'value') return undefined;
    return s.fail(`invalid value; expected ${PARAM_TYPE_NAMES[typ]}`);
  }
  switch (typ) {
    case 'value':
    case 'any':
      return value;
    case 'string':
      if (typeof value === 'string') return value;
      break;
    case 'int':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      break;
  }
  const got = value === null ? 'interface {}' : typeName(value);
  return s.fail(`wrong type for value; expected ${PARAM_TYPE_NAMES[typ]}; got ${got}`);
}

const nodeText = nodeString;
