// Development tool, not a test: the CPU time hostile templates take before the work budget stops them.
// npx ts-node -T -r tsconfig-paths/register libs/template/test/footprint/work.ts
import { parseTemplate, TemplateError, TEMPLATE_LIMITS } from '@platform/template';

const doubling = (levels: number, leaf: string): string => {
  let source = `{{ define "l0" }}${leaf}{{ end }}`;
  for (let i = 1; i <= levels; i++) {
    source += `{{ define "l${i}" }}{{ template "l${i - 1}" . }}{{ template "l${i - 1}" . }}{{ end }}`;
  }
  return source + `{{ template "l${levels}" . }}`;
};
const nestedRange = (depth: number, body: string): string =>
  '{{ range $.Secrets }}'.repeat(depth) + body + '{{ end }}'.repeat(depth);

const ascii = 'a'.repeat(64 * 1024);
const nonAscii = 'é☺'.repeat(32 * 1024);
const spaces = 'a' + ' '.repeat(64 * 1024 - 2) + 'a';
const secrets: Record<string, string> = {};
for (let i = 0; i < 20; i++) secrets[`K${i}`] = i % 2 ? ascii : nonAscii;
const data = { Secrets: secrets, A: ascii, N: nonAscii, W: spaces, G: '!'.repeat(64 * 1024) };

const CASES: [string, string][] = [
  ['doubling define + printf width (issue 15)', doubling(30, '{{ $x := printf "%9999999d" 1 }}')],
  ['doubling define + printf precision %f', doubling(30, '{{ $x := printf "%.9999999f" 1.5 }}')],
  ['doubling define + printf %x precision', doubling(30, '{{ $x := printf "%.999999x" 1.5 }}')],
  ['nested range, assignment body', nestedRange(6, '{{ $x := 1 }}')],
  ['nested range, 2000 ifs body', nestedRange(6, '{{ if $ }}{{ end }}'.repeat(2000))],
  ['nested range, map sorted then break', nestedRange(6, '{{ range $.Secrets }}{{ break }}{{ end }}')],
  ['nested range, len of the secrets map', nestedRange(6, '{{ $x := len $.Secrets }}')],
  [
    'nested range, long else-if chain',
    nestedRange(6, '{{ if not $ }}' + '{{ else if not $ }}'.repeat(500) + '{{ end }}'),
  ],
  ['nested range, not calls', nestedRange(6, '{{ $x := not 1 }}{{ $y := not 2 }}')],
  ['nested range, js of non-ASCII', nestedRange(6, '{{ $x := js $.N }}')],
  ['nested range, quote of non-ASCII', nestedRange(6, '{{ $x := quote $.N }}')],
  ['nested range, upper of non-ASCII', nestedRange(6, '{{ $x := upper $.N }}')],
  ['nested range, b64dec of garbage', nestedRange(6, '{{ $x := b64dec $.G }}')],
  ['nested range, trim of inner spaces', nestedRange(6, '{{ $x := trim $.W }}')],
  ['nested range, lt of equal strings', nestedRange(6, '{{ $x := lt $.A (print $.A) }}')],
  ['nested range, index of non-ASCII', nestedRange(6, '{{ $x := index $.N 1 }}')],
  ['nested range, toJson of secrets', nestedRange(6, '{{ $x := toJson $.Secrets }}')],
  ['nested range, urlquery of non-ASCII', nestedRange(6, '{{ $x := urlquery $.N }}')],
  ['nested range, html of ASCII', nestedRange(6, '{{ $x := html $.A }}')],
  ['nested range, printf %q non-ASCII', nestedRange(6, '{{ $x := printf "%q" $.N }}')],
  ['nested range, printf %x of string', nestedRange(6, '{{ $x := printf "%x" $.N }}')],
];

const only = process.argv[2];
console.log(`maxWork ${TEMPLATE_LIMITS.maxWork}`);
console.log('| template | source bytes | outcome | CPU ms |');
console.log('|---|---|---|---|');
for (const [name, source] of CASES) {
  if (only && !name.includes(only)) continue;
  const template = parseTemplate(source);
  const start = process.cpuUsage();
  let outcome = 'rendered';
  try {
    template.execute(data);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    outcome = e.code;
  }
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000;
  console.log(`| ${name} | ${source.length} | ${outcome} | ${ms.toFixed(0)} |`);
}
