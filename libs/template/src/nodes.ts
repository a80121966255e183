// The parse tree, shaped after Go's text/template/parse/node.go; `nodeString` prints nodes as Go does in errors.
import { goQuote } from './fmt';

export type Node =
  | ListNode
  | TextNode
  | CommentNode
  | PipeNode
  | ActionNode
  | CommandNode
  | IdentifierNode
  | VariableNode
  | DotNode
  | NilNode
  | FieldNode
  | ChainNode
  | BoolNode
  | NumberNode
  | StringNode
  | EndNode
  | ElseNode
  | BranchNode
  | BreakNode
  | ContinueNode
  | TemplateNode;

interface At {
  /** UTF-16 offset in the source. */
  readonly pos: number;
}

export interface ListNode extends At {
  readonly type: 'list';
  readonly nodes: Node[];
}
export interface TextNode extends At {
  readonly type: 'text';
  readonly text: string;
}
export interface CommentNode extends At {
  readonly type: 'comment';
}
export interface PipeNode extends At {
  readonly type: 'pipe';
  isAssign: boolean;
  readonly decl: VariableNode[];
  readonly cmds: CommandNode[];
}
export interface ActionNode extends At {
  readonly type: 'action';
  readonly pipe: PipeNode;
}
export interface CommandNode extends At {
  readonly type: 'command';
  readonly args: Node[];
}
export interface IdentifierNode extends At {
  readonly type: 'identifier';
  readonly ident: string;
}
export interface VariableNode extends At {
  readonly type: 'variable';
  readonly ident: string[];
}
export interface DotNode extends At {
  readonly type: 'dot';
}
export interface NilNode extends At {
  readonly type: 'nil';
}
export interface FieldNode extends At {
  readonly type: 'field';
  readonly ident: string[];
}
export interface ChainNode extends At {
  readonly type: 'chain';
  readonly node: Node;
  readonly field: string[];
}
export interface BoolNode extends At {
  readonly type: 'bool';
  readonly value: boolean;
}
export interface NumberNode extends At {
  readonly type: 'number';
  readonly isInt: boolean;
  readonly isUint: boolean;
  readonly isFloat: boolean;
  readonly isComplex: boolean;
  readonly int: number;
  readonly float: number;
  readonly imag: number;
  readonly text: string;
}
export interface StringNode extends At {
  readonly type: 'string';
  readonly quoted: string;
  readonly text: string;
}
export interface EndNode extends At {
  readonly type: 'end';
}
export interface ElseNode extends At {
  readonly type: 'else';
}
export interface BranchNode extends At {
  readonly type: 'if' | 'range' | 'with';
  readonly pipe: PipeNode;
  readonly list: ListNode;
  readonly elseList: ListNode | null;
}
/** The `if` an `{{else if …}}` continues with: the only node of `branch`'s else list, as the parser nests it. */
export function elseIfOf(branch: BranchNode): BranchNode | null {
  const list = branch.elseList;
  if (list === null || list.nodes.length !== 1) return null;
  const only = list.nodes[0];
  return only.type === 'if' ? only : null;
}
export interface BreakNode extends At {
  readonly type: 'break';
}
export interface ContinueNode extends At {
  readonly type: 'continue';
}
export interface TemplateNode extends At {
  readonly type: 'template';
  readonly name: string;
  readonly pipe: PipeNode | null;
}

function pipeString(p: PipeNode): string {
  let s = '';
  if (p.decl.length > 0) s = p.decl.map(nodeString).join(', ') + ' := ';
  return s + p.cmds.map(nodeString).join(' | ');
}

/** Go's Node.String(), used in the `at <…>` part of execution errors. */
export function nodeString(n: Node): string {
  switch (n.type) {
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'text':
      return n.text;
    case 'comment':
      return '{{/* */}}';
    case 'pipe':
      return pipeString(n);
    case 'action':
      return '{{' + pipeString(n.pipe) + '}}';
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? '(' + pipeString(a) + ')' : nodeString(a))).join(' ');
    case 'identifier':
      return n.ident;
    case 'variable':
      return n.ident.join('.');
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'field':
      return n.ident.map((id) => '.' + id).join('');
    case 'chain':
      return (
        (n.node.type === 'pipe' ? '(' + pipeString(n.node) + ')' : nodeString(n.node)) +
        n.field.map((f) => '.' + f).join('')
      );
    case 'bool':
      return n.value ? 'true' : 'false';
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'end':
      return '{{end}}';
    case 'else':
      return '{{else}}';
    case 'if':
    case 'range':
    case 'with':
      return (
        '{{' +
        n.type +
        ' ' +
        pipeString(n.pipe) +
        '}}' +
        nodeString(n.list) +
        (n.elseList ? '{{else}}' + nodeString(n.elseList) : '') +
        '{{end}}'
      );
    case 'break':
      return '{{break}}';
    case 'continue':
      return '{{continue}}';
    case 'template':
      return '{{template ' + goQuote(n.name) + (n.pipe ? ' ' + pipeString(n.pipe) : '') + '}}';
    default: {
      const _exhaustive: never = n;
      return _exhaustive;
    }
  }
}
