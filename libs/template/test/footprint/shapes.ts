// Worst-case template shapes for parse effort and retained heap, each built up to a target size in bytes.
export interface Shape {
  readonly name: string;
  /** A source of about `bytes` bytes. */
  readonly build: (bytes: number) => string;
}

const repeatTo = (unit: (i: number) => string, bytes: number, head = '', tail = ''): string => {
  const parts: string[] = [head];
  let size = head.length + tail.length;
  for (let i = 0; size < bytes; i++) {
    const u = unit(i);
    if (size + u.length > bytes) break;
    parts.push(u);
    size += u.length;
  }
  parts.push(tail);
  return parts.join('');
};

export const SHAPES: readonly Shape[] = [
  { name: 'plain text', build: (bytes) => 'x'.repeat(bytes) },
  { name: 'tiny actions {{.}}', build: (bytes) => repeatTo(() => '{{.}}', bytes) },
  {
    name: 'env lines KEY={{ .Secrets.KEY }}',
    build: (bytes) => repeatTo((i) => `K${i}={{ .Secrets.K${i} }}\n`, bytes),
  },
  { name: 'long pipelines (print 1 1 …)', build: (bytes) => repeatTo(() => ' 1', bytes - 16, '{{ print', ' }}') },
  { name: 'chained commands (. | print | …)', build: (bytes) => repeatTo(() => '|print', bytes - 16, '{{ .', ' }}') },
  { name: 'parenthesised args (print (1) …)', build: (bytes) => repeatTo(() => ' (1)', bytes - 16, '{{ print', ' }}') },
  {
    name: 'many defines',
    build: (bytes) => repeatTo((i) => `{{define "d${i}"}}{{.}}{{end}}`, bytes),
  },
  {
    name: 'deep nesting (if ×99)',
    build: (bytes) => repeatTo(() => '{{if .}}'.repeat(99) + '{{.}}' + '{{end}}'.repeat(99), bytes),
  },
  { name: 'variables {{$a := .}}', build: (bytes) => repeatTo(() => '{{$a := .}}', bytes) },
  {
    name: 'else-if chain',
    build: (bytes) => repeatTo((i) => `{{else if .}}${i % 10}`, bytes - 32, '{{if .}}', '{{end}}'),
  },
];
