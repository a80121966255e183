// Template engine throughput beside Go's text/template, measured in the same run (issue 4: ≥ 1.5× Go's execute rate).
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { GoStringMap, parseTemplate } from '@platform/template';
import { opsPerSecond, renderTable, type BenchFigure } from './report';

const SECRET_KEYS = [
  'API_KEY',
  'API_TOKEN',
  'STRIPE_API_KEY',
  'STRIPE_WEBHOOK_SECRET',
  'SENDGRID_API_KEY',
  'SLACK_BOT_TOKEN',
  'OPENAI_API_KEY',
  'ANTHROPIC_API_KEY',
  'GITHUB_TOKEN',
  'SENTRY_DSN',
  'REDIS_PASSWORD',
  'S3_ACCESS_KEY',
  'S3_SECRET_KEY',
  'JWT_SIGNING_KEY',
  'SESSION_SECRET',
  'ENCRYPTION_KEY',
  'SMTP_PASSWORD',
];

/** A 23-line env file referencing 20 secrets, with one if/else and one printf. */
export const ENV_TEMPLATE = [
  '# rendered for the payment service',
  ...SECRET_KEYS.map((key) => `${key}={{ .Secrets.${key} }}`),
  'DATABASE_URL=postgresql://{{ .Secrets.DB_USER }}:{{ .Secrets.DB_PASSWORD }}@db.internal:5432/payments',
  'API_URL={{ if .Secrets.API_URL }}{{ .Secrets.API_URL }}{{ else }}https://api.example.com{{ end }}',
  'AUTH_HEADER={{ printf "Bearer %s" .Secrets.API_TOKEN }}',
  'PORT=8080',
  'LOG_LEVEL=info',
  '',
].join('\n');

const DATA = {
  Secrets: Object.fromEntries(
    [...SECRET_KEYS, 'DB_USER', 'DB_PASSWORD', 'API_URL'].map((key, i) => [key, `${key.toLowerCase()}-${i}-s3cr3t`]),
  ),
};

/** Figures quoted in issue 4 for Go on this class of machine (75–90k executes/s: the top, to be strict), used only without Go. */
const QUOTED_GO = { executesPerSecond: 90_000, parseExecutesPerSecond: 8_000 };

interface GoFigures {
  readonly executesPerSecond: number;
  readonly parseExecutesPerSecond: number;
  readonly go?: string;
}

function measureGo(seconds: number): GoFigures | undefined {
  try {
    const out = execFileSync('go', ['run', '.'], {
      cwd: join(__dirname, '..', 'libs', 'template', 'test', 'go-bench'),
      input: JSON.stringify({ template: ENV_TEMPLATE, data: DATA, seconds }),
      env: { ...process.env, GOPROXY: 'off', GOFLAGS: '-mod=mod' },
      timeout: 120_000,
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    return JSON.parse(out.toString()) as GoFigures;
  } catch {
    return undefined;
  }
}

export async function run(): Promise<string> {
  const lines = ENV_TEMPLATE.split('\n').length - 1;
  const references = parseTemplate(ENV_TEMPLATE).references().length;
  const template = parseTemplate(ENV_TEMPLATE);
  const executes = opsPerSecond(() => template.execute(DATA), 2000);
  const parseExecutes = opsPerSecond(() => parseTemplate(ENV_TEMPLATE).execute(DATA), 2000);
  // .Secrets as services/render passes it: Go's map[string]string.
  const stringMapData = { Secrets: new GoStringMap(Object.entries(DATA.Secrets)) };
  const stringMapExecutes = opsPerSecond(() => template.execute(stringMapData), 2000);

  const go = measureGo(2);
  const label = go
    ? `${go.go ?? 'Go'} text/template, same run`
    : 'Go as quoted in issue 4, not measured: go not installed';
  const baseline = go ?? QUOTED_GO;
  const figures: BenchFigure[] = [
    {
      name: `execute: ${lines}-line env file, ${references} secrets, if/else + printf`,
      value: executes,
      unit: 'ops/s',
      baseline: { label, value: baseline.executesPerSecond },
    },
    {
      name: 'execute, target 1.5× Go',
      value: executes,
      unit: 'ops/s',
      baseline: { label: '1.5 × Go', value: 1.5 * baseline.executesPerSecond },
    },
    {
      name: 'execute, .Secrets as map[string]string (GoStringMap, as render passes it)',
      value: stringMapExecutes,
      unit: 'ops/s',
      baseline: { label: 'execute, plain object (first row)', value: executes },
    },
    {
      name: 'parse + execute',
      value: parseExecutes,
      unit: 'ops/s',
      baseline: { label, value: baseline.parseExecutesPerSecond },
    },
  ];
  return renderTable('Template engine (libs/template) vs Go text/template', figures);
}
