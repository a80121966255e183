import { TEMPLATE_LIMITS } from '@platform/template';
import { TemplateCache } from './template-cache';
import { type JobOutcome, runTemplateJob } from './template-jobs';

const cache = () => new TemplateCache({ maxEntries: 10, maxBytes: 16 * 1024 * 1024 });
const failure = (outcome: JobOutcome) => (outcome.ok ? undefined : outcome.failure);
const past = () => Date.now() - 1;

describe('runTemplateJob', () => {
  it("answers the engine's parse time limit as a parse error without a position", () => {
    expect(failure(runTemplateJob(cache(), { kind: 'parse', source: 'A={{ .Secrets.A }}', deadline: past() }))).toEqual(
      {
        kind: 'refusal',
        code: 'TEMPLATE_PARSE_ERROR',
        message: 'template parsing error: template parsing took longer than the time limit',
      },
    );
  });

  it("answers the engine's execution time limit as an execution error", () => {
    const job = { kind: 'execute', source: 'A={{ .Secrets.A }}', format: 'env', values: [['A', 'v']] } as const;
    const template = cache();
    expect(runTemplateJob(template, { ...job, deadline: Date.now() + 60_000 })).toEqual({
      ok: true,
      result: { output: 'A=v', used: ['A'] },
    });
    expect(failure(runTemplateJob(template, { ...job, deadline: past() }))).toMatchObject({
      kind: 'refusal',
      code: 'TEMPLATE_EXECUTION_ERROR',
      message: 'template execution error: template execution took longer than the time limit',
    });
  });

  it('refuses a source with more parse nodes than the engine allows as too large', () => {
    const source = '{{1}}'.repeat(Math.ceil(TEMPLATE_LIMITS.maxNodes / 2));
    expect(failure(runTemplateJob(cache(), { kind: 'parse', source, deadline: Date.now() + 60_000 }))).toEqual({
      kind: 'refusal',
      code: 'TEMPLATE_TOO_LARGE',
      message: `template parsing error: template has more than ${TEMPLATE_LIMITS.maxNodes} parse nodes`,
    });
  });

  describe(".Secrets is Go's map[string]string, as Distr passes it", () => {
    const values = [
      ['USERNAME', 'admin'],
      ['PASSWORD', 's3cr3t'],
      ['TOKEN', 't0k3n'],
    ] as const;
    const run = (source: string) =>
      runTemplateJob(cache(), { kind: 'execute', source, format: 'text', values, deadline: Date.now() + 60_000 });

    it('reads a missing key through index as the empty string, and names map[string]string', () => {
      expect(run('[{{ index .Secrets "MISSING" }}] {{ printf "%T" .Secrets }}')).toEqual({
        ok: true,
        result: { output: '[] map[string]string', used: [] },
      });
    });

    it('refuses a field of a value naming its type string, and shows no value in a message', () => {
      expect(failure(run('{{ .Secrets.USERNAME.Foo }}'))).toEqual({
        kind: 'refusal',
        code: 'TEMPLATE_EXECUTION_ERROR',
        message: "template execution error: can't evaluate field Foo in type string",
        details: { line: 1, column: 11 },
      });
      expect(failure(run('{{ eq .Secrets .Secrets }}'))).toEqual({
        kind: 'refusal',
        code: 'TEMPLATE_EXECUTION_ERROR',
        message: 'template execution error: error calling eq: non-comparable type ********: map[string]string',
        details: { line: 1, column: 3 },
      });
      expect(failure(run('{{ .Secrets.MISSING }}'))).toMatchObject({
        message: 'template execution error: map has no entry for key "MISSING"',
      });
    });

    it('reports as used exactly the keys whose values the execution read', () => {
      const used = (source: string) => {
        const outcome = run(source);
        return outcome.ok && 'used' in outcome.result ? [...outcome.result.used].sort() : outcome;
      };
      expect(used('{{ .Secrets.USERNAME }}{{ index .Secrets "TOKEN" }}{{ index .Secrets "MISSING" }}')).toEqual([
        'TOKEN',
        'USERNAME',
      ]);
      // Keys are ranged in sorted order: PASSWORD, TOKEN, USERNAME; break stops after TOKEN.
      expect(used('{{ range $k, $v := .Secrets }}{{ if eq $k "TOKEN" }}{{ break }}{{ end }}{{ end }}')).toEqual([
        'PASSWORD',
        'TOKEN',
      ]);
      expect(used('{{ len .Secrets }}{{ if .Secrets }}some{{ end }}')).toEqual([]);
      expect(used('{{ printf "%v" .Secrets | len }}')).toEqual(['PASSWORD', 'TOKEN', 'USERNAME']);
      expect(used('{{ toJson $ | len }}')).toEqual(['PASSWORD', 'TOKEN', 'USERNAME']);
    });
  });
});
