import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import * as ts from 'typescript';

// "No SQL outside repositories" (ARCHITECTURE.md §5), checked: every string and template literal of shipped code
// (what `npm run build` compiles: libs/*/src, services/*/src, apps/*/src, without tests and test harnesses) that reads
// as a SQL statement must sit in a repository, a migration, libs/event-store or libs/postgres.
const root = join(__dirname, '..', '..');

const SQL_STATEMENT =
  /^\s*\(?\s*(?:with\s+\w+\s+as\s*\(|select\b[\s\S]*?\bfrom\b|insert\s+into\b|update\s+[\w."]+\s+set\b|delete\s+from\b)/i;

const ALLOWED: readonly RegExp[] = [
  /\.repository\.ts$/,
  /(^|\/|[.-])migrations?\.ts$/,
  /^libs\/event-store\/src\//,
  /^libs\/postgres\/src\//,
];

function shippedSources(): string[] {
  const files: string[] = [];
  const walk = (folder: string): void => {
    for (const entry of readdirSync(folder, { withFileTypes: true })) {
      const path = join(folder, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== 'testing' && entry.name !== 'gen' && entry.name !== 'node_modules') walk(path);
      } else if (entry.name.endsWith('.ts') && !/\.(spec|int-spec|e2e-spec)\.ts$|\.fixtures\.ts$/.test(entry.name)) {
        files.push(relative(root, path));
      }
    }
  };
  for (const top of ['libs', 'services', 'apps']) {
    for (const unit of readdirSync(join(root, top), { withFileTypes: true })) {
      if (unit.isDirectory() && !(top === 'libs' && unit.name === 'testing')) walk(join(root, top, unit.name, 'src'));
    }
  }
  return files;
}

/** The text of each string or template literal (a template's substitutions as `$`), with its line. */
function literalsOf(file: string, text: string): { line: number; text: string }[] {
  const source = ts.createSourceFile(file, text, ts.ScriptTarget.ES2022, true);
  const found: { line: number; text: string }[] = [];
  const visit = (node: ts.Node): void => {
    let literal: string | undefined;
    if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) literal = node.text;
    else if (ts.isTemplateExpression(node)) {
      literal = node.head.text + node.templateSpans.map((span) => `$${span.literal.text}`).join('');
    }
    if (literal !== undefined) {
      found.push({ line: source.getLineAndCharacterOfPosition(node.getStart()).line + 1, text: literal });
      if (ts.isTemplateExpression(node)) node.templateSpans.forEach((span) => visit(span.expression));
      return;
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return found;
}

function sqlStatementsIn(file: string, text: string): string[] {
  return literalsOf(file, text)
    .filter((literal) => SQL_STATEMENT.test(literal.text))
    .map((literal) => `${file}:${literal.line}: ${literal.text.trim().split('\n')[0].slice(0, 60)}`);
}

describe('SQL placement', () => {
  it('finds no SQL statement in shipped code outside repositories, migrations, libs/event-store and libs/postgres', () => {
    const misplaced = shippedSources()
      .filter((file) => !ALLOWED.some((allowed) => allowed.test(file)))
      .flatMap((file) => sqlStatementsIn(file, readFileSync(join(root, file), 'utf8')));
    expect(misplaced).toEqual([]);
  });

  it.each([
    ["const a = 'select id from t where x = $1';", 1],
    ['const a = `SELECT ${columns} FROM secret_view WHERE key = $1`;', 1],
    ['const a = `\n  insert into data_key (id) values ($1)`;', 1],
    ["const a = 'update idempotency_key set expires_at = now()';", 1],
    ["const a = 'delete from idempotency_key where expires_at <= now() returning 1';", 1],
    ['const a = `with gone as (delete from t returning 1) select count(*) from gone`;', 1],
    ['const a = f(`(select position from ${t} where a = 1)`);', 1],
    ["const a = 'select 1';", 0],
    ["const a = 'the selected key was removed from the scope';", 0],
    ["const a = 'secrets.v1.update';", 0],
  ])('tells a SQL statement from other strings: %s', (code, statements) => {
    expect(sqlStatementsIn('fixture.ts', code)).toHaveLength(statements);
  });

  it('counts repositories, migrations and the two persistence libs as the places for SQL', () => {
    const allowed = (file: string): boolean => ALLOWED.some((pattern) => pattern.test(file));
    expect(allowed('services/secrets/src/secrets/secret-view.repository.ts')).toBe(true);
    expect(allowed('services/secrets/src/secrets.migrations.ts')).toBe(true);
    expect(allowed('services/audit/src/database/audit-migrations.ts')).toBe(true);
    expect(allowed('libs/event-store/src/stream-reads.ts')).toBe(true);
    expect(allowed('libs/postgres/src/postgres-pool.ts')).toBe(true);
    expect(allowed('services/secrets/src/secrets/secrets.service.ts')).toBe(false);
    expect(allowed('services/secrets/src/resolve/secret-resolver.ts')).toBe(false);
  });
});
