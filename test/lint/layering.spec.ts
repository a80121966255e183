import { join } from 'node:path';
import { ESLint } from 'eslint';

// The layering rules of ARCHITECTURE.md §1, as `npm run lint` enforces them: each import below is linted as if
// it were written in a file at that path, and must be refused (or, for the controls, accepted).
const root = join(__dirname, '..', '..');
// The config is handed over rather than looked up: ESLint loads config files with a dynamic import, which Jest's
// module sandbox does not provide.
const eslint = new ESLint({ cwd: root, overrideConfigFile: true, overrideConfig: require('../../eslint.config.js') });

const LAYERING_RULES = new Set(['no-restricted-imports', 'no-restricted-syntax']);

/** `import 'x'`, or with `dynamic` an `import('x')` (which no-restricted-imports alone would not see). */
async function restrictedImports(file: string, specifier: string, dynamic = false): Promise<string[]> {
  const code = dynamic ? `export const load = () => import('${specifier}');\n` : `import '${specifier}';\n`;
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return result.messages.filter((m) => LAYERING_RULES.has(m.ruleId ?? '')).map((m) => m.message);
}

describe('layering, as npm run lint enforces it', () => {
  it.each([
    [
      'services/render/src/layering-fixture.ts',
      '../../secrets/src/secrets.definition',
      'never imports another service',
    ],
    ['services/audit/src/query/layering-fixture.ts', '../../../redaction/src/main', 'never imports another service'],
    [
      'services/secrets/src/layering-fixture.ts',
      '../../../apps/cli/src/main',
      'never imports another service or an app',
    ],
    ['services/render/src/layering-fixture.ts', '@platform/event-store', 'never read the event store'],
    ['services/redaction/src/layering-fixture.ts', 'pg', 'never read the event store'],
    ['services/render/src/layering-fixture.ts', '@platform/postgres', 'never read the event store'],
    ['libs/template/src/layering-fixture.ts', '@nestjs/common', 'import no framework'],
    ['libs/redaction/src/layering-fixture.ts', 'nats', 'import no framework'],
    ['libs/redaction/src/layering-fixture.ts', '@platform/messaging', 'no other lib'],
    ['libs/messaging/src/layering-fixture.ts', '../../../services/secrets/src/main', 'libs never import services'],
    ['libs/testing/src/layering-fixture.ts', '../../../apps/cli/src/main', 'libs never import services or apps'],
    ['services/render/src/layering-fixture.ts', 'node-jose', 'node-jose stays behind @platform/crypto'],
    [
      'apps/cli/src/commands/layering-fixture.ts',
      '../../../../services/secrets/src/secrets.definition',
      'public entry',
    ],
    ['apps/cli/src/layering-fixture.ts', '../../../services/audit/src/ops/stream-gap-ops', 'public entry'],
  ])('refuses, in %s, an import of %s', async (file, specifier, reason) => {
    const messages = await restrictedImports(file, specifier);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(reason);
  });

  it.each([
    [
      'apps/cli/src/commands/layering-fixture.ts',
      '../../../../services/secrets/src/secrets.definition',
      'public entry',
    ],
    [
      'services/render/src/layering-fixture.ts',
      '../../secrets/src/secrets.definition',
      'never imports another service',
    ],
    ['libs/messaging/src/layering-fixture.ts', '../../../services/secrets/src/main', 'libs never import services'],
  ])('refuses, in %s, a dynamic import() of %s', async (file, specifier, reason) => {
    const messages = await restrictedImports(file, specifier, true);
    expect(messages).toHaveLength(1);
    expect(messages[0]).toContain(reason);
  });

  it.each([
    ['services/render/src/layering-fixture.ts', '@platform/messaging'],
    ['services/secrets/src/layering-fixture.ts', '@platform/event-store'],
    ['services/audit/src/layering-fixture.ts', '@platform/postgres'],
    ['services/secrets/src/layering-fixture.ts', './secrets/secrets.service'],
    ['services/audit/src/layering-fixture.ts', './records/audit-store.repository'],
    ['libs/crypto/src/layering-fixture.ts', 'node-jose'],
    ['libs/template/src/layering-fixture.ts', 'node:crypto'],
    ['services/render/test/layering-fixture.e2e-spec.ts', '../../secrets/src/secrets.definition'],
    ['apps/cli/src/commands/layering-fixture.ts', '../../../../services/secrets/src/ops'],
  ])('accepts, in %s, an import of %s', async (file, specifier) => {
    expect(await restrictedImports(file, specifier)).toEqual([]);
    expect(await restrictedImports(file, specifier, true)).toEqual([]);
  });
});
