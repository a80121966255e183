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
});
