// Development tool, not a test: parse CPU time and heap retained per source byte for worst-case shapes,
// and how Template.estimatedBytes compares with that heap (README.md, Limits).
// node --expose-gc -r ts-node/register/transpile-only -r tsconfig-paths/register libs/template/test/footprint/footprint.ts [KiB]
import { parseTemplate, TemplateError } from '@platform/template';
import { SHAPES } from './shapes';

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with node --expose-gc');

function heap(): number {
  gc!();
  gc!();
  return process.memoryUsage().heapUsed;
}

const kib = Number(process.argv[2] ?? 1024);
const rows: string[] = [];
rows.push('| shape | bytes | parse CPU ms | heap/byte | with escaping | estimate/heap |');
rows.push('|---|---|---|---|---|---|');
for (const shape of SHAPES) {
  const source = shape.build(kib * 1024);
  const bytes = Buffer.byteLength(source);
  const before = heap();
  const start = process.cpuUsage();
  let template;
  try {
    template = parseTemplate(source);
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
    const used = process.cpuUsage(start);
    const ms = (used.user + used.system) / 1000;
    rows.push(`| ${shape.name} | ${bytes} | ${ms.toFixed(0)}, refused: ${e.code} | | | |`);
    continue;
  }
  const used = process.cpuUsage(start);
  const ms = (used.user + used.system) / 1000;
  // The source was allocated before the first reading; the template keeps it, so it counts (V8: 1 or 2 bytes a char).
  const sourceHeap = source.length * (/[\u0100-\uffff]/.test(source) ? 2 : 1);
  const parsed = heap() - before + sourceHeap;
  try {
    template.execute({}, { escapePrinted: (t) => t });
  } catch (e) {
    if (!(e instanceof TemplateError)) throw e;
  }
  const both = heap() - before + sourceHeap;
  const estimate = (template as { estimatedBytes?: number }).estimatedBytes;
  rows.push(
    `| ${shape.name} | ${bytes} | ${ms.toFixed(0)} | ${(parsed / bytes).toFixed(1)} | ${(both / bytes).toFixed(1)} | ${
      estimate === undefined ? '-' : (estimate / both).toFixed(2)
    } |`,
  );
  template = undefined;
}
console.log(rows.join('\n'));
