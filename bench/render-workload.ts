/** The render benchmark's workload, shared by `render` and `scaling`: one vendor, 20 secrets, a 23-line env file. */
export const ORG = 'benchvendor';
export const KEYS = Array.from({ length: 20 }, (_, i) => `SECRET_${String(i + 1).padStart(2, '0')}`);

/** 23 lines: a comment, 20 values (one through printf, one through if/else), a blank line and a literal. */
export const TEMPLATE = [
  '# service configuration',
  ...KEYS.slice(0, 18).map((key) => `${key}={{ .Secrets.${key} }}`),
  `DATABASE_URL={{ printf "postgresql://app:%s@db:5432/app" .Secrets.${KEYS[18]} }}`,
  `API_URL={{ if .Secrets.${KEYS[19]} }}{{ .Secrets.${KEYS[19]} }}{{ else }}https://api.example.com{{ end }}`,
  '',
  'LOG_LEVEL=info',
].join('\n');
