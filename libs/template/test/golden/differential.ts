// Differential check against Go: renders random templates with both engines and prints every disagreement.
// Run (needs go): npx ts-node -T -r tsconfig-paths/register libs/template/test/golden/differential.ts [count] [seed]
// MODE=soup|printf|structured|body generates one kind only (soup: mostly invalid sources, for parse errors).
// SECRETS=map[string]string passes .Secrets as Go's map[string]string (a GoStringMap here), as render does.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  GoStringMap,
  TemplateExecutionError,
  TemplateParseError,
  goValueText,
  parseTemplate,
} from '@platform/template';

const count = Number(process.argv[2] ?? 2000);
let seed = Number(process.argv[3] ?? Date.now() % 100000);
const random = (): number => {
  // mulberry32: reproducible runs from a seed
  seed |= 0;
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(random() * xs.length)];

const DATA = {
  Secrets: { A: 'alpha', B: '', C: 'line1\nline2', D: 'héllo ☺', E: ' 42 ', F: 'aGk=' },
  List: ['a', 'b', 'c'],
  Nums: [3, 1, 2],
  Map: { b: 2, a: 1 },
  Num: 42,
  Neg: -3,
  Float: 2.5,
  Bool: true,
  Nil: null,
  Mixed: [1, 'x', null, false, 0.5],
  Nested: { Inner: { Deep: 'x' } },
  Big: 1e21,
  Tiny: 5e-324,
  Unicode: { ключ: 'значение', é: 'e', Z: 'z', a: 'A', '☺': 'smile' },
  Deep: { L: [{ M: { N: ['x', 'y'] } }] },
};

const operands = [
  '.Secrets.A',
  '.Secrets.B',
  '.Secrets.C',
  '.Secrets.D',
  '.Secrets.E',
  '.Secrets.F',
  '.List',
  '.Nums',
  '.Map',
  '.Num',
  '.Neg',
  '.Float',
  '.Bool',
  '.Nil',
  '.Mixed',
  '.Nested.Inner',
  '.Nested.Inner.Deep',
  '.',
  '$',
  '$.Num',
  '1',
  '0',
  '-1',
  '2.5',
  '1.0',
  '0x10',
  "'a'",
  'true',
  'false',
  'nil',
  '"s"',
  '""',
  '"%d"',
  '"%s|%v"',
  '`r`',
  '"a b"',
  '1e2',
  '"%5.1f"',
  '"%q"',
  '"%x"',
  '"%-4s|"',
  '"%t"',
  '"%c"',
  '"%03d"',
  '"%+v"',
  '"%T"',
];
const functions = [
  'and',
  'or',
  'not',
  'eq',
  'ne',
  'lt',
  'le',
  'gt',
  'ge',
  'len',
  'index',
  'slice',
  'print',
  'printf',
  'println',
  'html',
  'js',
  'urlquery',
  'default',
  'quote',
  'squote',
  'b64enc',
  'b64dec',
  'indent',
  'nindent',
  'toJson',
  'trim',
  'upper',
  'lower',
  'required',
  'call',
];

function operand(depth: number): string {
  if (depth > 0 && random() < 0.2) return `(${pipeline(depth - 1)})`;
  return pick(operands);
}

function command(depth: number): string {
  if (random() < 0.35) return operand(depth);
  const n = Math.floor(random() * 3.5);
  return [pick(functions), ...Array.from({ length: n }, () => operand(depth))].join(' ');
}

function pipeline(depth: number): string {
  const n = random() < 0.75 ? 1 : 2;
  const cmds = [command(depth)];
  for (let i = 1; i < n; i++)
    cmds.push(random() < 0.8 ? `${pick(functions)}${random() < 0.5 ? ' ' + operand(depth) : ''}` : command(depth));
  return cmds.join(' | ');
}

function body(depth: number): string {
  const parts: string[] = [];
  const n = 1 + Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    const r = random();
    if (r < 0.45) parts.push(`{{ ${pipeline(2)} }}`);
    else if (r < 0.55) parts.push(pick(['x', ' ', '\n', 'a=b;']));
    else if (depth > 0 && r < 0.7)
      parts.push(`{{ if ${pipeline(1)} }}${body(depth - 1)}{{ else }}${body(depth - 1)}{{ end }}`);
    else if (depth > 0 && r < 0.8) parts.push(`{{ with ${pipeline(1)} }}${body(depth - 1)}{{ end }}`);
    else if (depth > 0 && r < 0.9)
      parts.push(`{{ range $i, $v := ${pipeline(1)} }}{{ $i }}:${body(depth - 1)}{{ end }}`);
    else parts.push(`{{ $x := ${pipeline(1)} }}{{ $x }}`);
  }
  return parts.join('');
}

/** Token soup: mostly invalid sources, to compare parse errors. */
const soupParts = [
  '{{',
  '}}',
  '{{- ',
  ' -}}',
  '{{/* c */}}',
  '{{/*',
  '*/}}',
  '(',
  ')',
  '|',
  ':=',
  '=',
  ',',
  '$',
  '$x',
  '$y',
  '.',
  '.Secrets',
  '.Secrets.A',
  '.Nope',
  ' ',
  '\n',
  '"',
  '`',
  "'",
  '\\',
  'if',
  'else',
  'end',
  'range',
  'with',
  'define',
  'template',
  'block',
  'break',
  'continue',
  'nil',
  'true',
  'and',
  'not',
  'eq',
  'len',
  'index',
  'printf',
  'quote',
  'default',
  'nope',
  '0x1F',
  '1e3',
  '-1',
  '1.5',
  "'a'",
  "'\\n'",
  '2i',
  '1+2i',
  '"s"',
  '"\\x41\\u00e9"',
  '`raw`',
  '"x"',
  '08',
  '0b2',
  '1_0',
  '._',
  '.1',
  'é',
  '☺',
  '#',
  '@',
  '%',
  '{',
  '}',
  '"%d"',
];
function soup(): string {
  const n = 1 + Math.floor(random() * 14);
  return Array.from({ length: n }, () => pick(soupParts)).join('');
}

/** Printf with random flags, widths, precisions and verbs over values of every kind. */
function printfCase(): string {
  const verbs = 'vsdqxXobcteEfFgGTU%';
  const args = [
    '.Num',
    '.Neg',
    '.Float',
    '1.0',
    '0.000012345',
    '123456789.0',
    '1e21',
    '-0.5',
    '"héllo"',
    '""',
    '.Bool',
    '.List',
    '.Map',
    '.Nil',
    '.Mixed',
    "'☺'",
    '255',
    '-255',
    '0',
    '.Secrets.D',
    '2.675',
    '1e-7',
    '100000.0',
    '3',
  ];
  let format = '';
  const n = 1 + Math.floor(random() * 3);
  for (let i = 0; i < n; i++) {
    format += '%' + [...'+- #0'].filter(() => random() < 0.2).join('');
    if (random() < 0.1) format += `[${Math.floor(random() * 4)}]`;
    if (random() < 0.4) format += random() < 0.2 ? '*' : String(Math.floor(random() * 12));
    if (random() < 0.4) format += '.' + (random() < 0.2 ? '*' : random() < 0.1 ? '' : String(Math.floor(random() * 8)));
    if (random() < 0.1) format += `[${Math.floor(random() * 4)}]`;
    format += verbs[Math.floor(random() * verbs.length)];
    if (random() < 0.3) format += '|';
  }
  const argc = Math.floor(random() * (n + 2));
  return `{{ printf ${JSON.stringify(format)} ${Array.from({ length: argc }, () => pick(args)).join(' ')} }}`;
}

/** Variables, definitions, trimming and loops around the random bodies. */
function structured(): string {
  const r = random();
  if (r < 0.25) return `{{ define "d" }}${body(1)}{{ end }}{{ template "d" ${pick(operands)} }}${body(1)}`;
  if (r < 0.45)
    return `{{ range $k, $v := ${pick(['.Map', '.List', '.Secrets', '.Mixed', '.Nums'])} }}{{ if ${pick(['$v', 'eq $k "b"', 'not $v', '$k'])} }}{{ ${pick(['break', 'continue', '$k', '$v', 'printf "%v=%v" $k $v'])} }}{{ end }}{{ $v }}{{ end }}`;
  if (r < 0.5) return `a \n {{- ${pipeline(1)} -}} \n b {{- /* c */ -}} c`;
  if (r < 0.6) {
    const recurse = `{{ define "rec" }}{{ if lt (len .) 3 }}{{ template "rec" (print . "${pick(['x', 'é', '☺'])}") }}{{ else }}{{ . }}|{{ ${pipeline(1)} }}{{ end }}{{ end }}`;
    return `${recurse}{{ range $i, $e := ${pick(['.List', '.Nums', '.Unicode', '.Mixed'])} }}{{ if ${pick(['$e', 'eq $i 1', 'not $e', '$i'])} }}{{ template "rec" ${pick(['""', '"a"', 'print $i'])} }}{{ else }}{{ ${pipeline(1)} }}{{ end }}{{ end }}`;
  }
  if (r < 0.75)
    return `{{ $x := ${pick(operands)} }}{{ $y := ${pipeline(1)} }}{{ $x = ${pick(operands)} }}{{ $x }}{{ $y }}`;
  return `{{ block "b" ${pick(operands)} }}${body(1)}{{ end }}`;
}

const stringSecrets = process.env.SECRETS === 'map[string]string';
const data = stringSecrets ? { ...DATA, Secrets: new GoStringMap(Object.entries(DATA.Secrets)) } : DATA;

const cases = Array.from({ length: count }, (_, i) => {
  const r = random();
  const generators: Record<string, () => string> = { soup, printf: printfCase, structured, body: () => body(2) };
  const only = generators[process.env.MODE ?? ''];
  const template = only ? only() : r < 0.4 ? body(2) : r < 0.6 ? soup() : r < 0.8 ? printfCase() : structured();
  return { name: `fuzz/${i}`, template, ...(stringSecrets ? { secretsType: 'map[string]string' } : {}) };
});
const dir = mkdtempSync(join(tmpdir(), 'template-diff-'));
writeFileSync(join(dir, 'cases.json'), JSON.stringify({ defaultData: DATA, cases }));
execFileSync('go', ['run', '.', '-cases', join(dir, 'cases.json'), '-out', join(dir, 'out.json')], {
  cwd: __dirname,
  env: { ...process.env, GOPROXY: 'off' },
  stdio: 'inherit',
});
const results = (
  JSON.parse(readFileSync(join(dir, 'out.json'), 'utf8')) as {
    cases: { name: string; template: string; output?: string; error?: string }[];
  }
).cases;

let mismatches = 0;
let deviations = 0;
let rendered = 0;
for (const r of results) {
  let ours: { output?: string; error?: string };
  try {
    ours = { output: parseTemplate(r.template, { name: 't' }).execute(data, { describeValue: goValueText }) };
  } catch (e) {
    if (!(e instanceof TemplateParseError || e instanceof TemplateExecutionError)) {
      ours = { error: `CRASH ${(e as Error).stack}` };
    } else ours = { error: e.goMessage };
  }
  if (ours.output === r.output && ours.error === r.error) {
    if (r.output !== undefined) rendered++;
    continue;
  }
  if (r.error?.includes('no entry for key')) {
    deviations++; // documented: a missing key is empty where it is checked; see the golden lenient cases
    continue;
  }
  mismatches++;
  if (mismatches <= 25) {
    console.log(`--- ${r.name}: ${JSON.stringify(r.template)}`);
    console.log(`  go:   ${JSON.stringify(r.output ?? r.error)}`);
    console.log(`  ours: ${JSON.stringify(ours.output ?? ours.error)}`);
  }
}
console.log(
  `${results.length} templates (${rendered} rendered alike, the rest failed alike), ` +
    `${mismatches} disagreements, ${deviations} missing-key deviations`,
);
