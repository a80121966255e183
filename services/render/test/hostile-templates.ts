// Templates a hostile tenant with ordinary rights sends (issue 15), for the isolation tests and the bench.

function doubling(levels: number, bottom: string, salt: string): string {
  const above = Array.from(
    { length: levels },
    (_, i) => `{{define "w${i + 1}"}}{{template "w${i}"}}{{template "w${i}"}}{{end}}`,
  );
  return `${salt}{{define "w0"}}${bottom}{{end}}${above.join('')}{{template "w${levels}"}}`;
}

/**
 * The few hundred bytes: each `define` calls the one below twice, and the bottom one assigns a `printf`
 * result 500 kB wide to a variable. Unbounded it took 5-7 s of a thread; the engine's work budget now stops it.
 */
export function doublingPrintfTemplate(salt = ''): string {
  return doubling(24, '{{$x := printf "%500000d" 1}}', salt);
}

/** The same doubling with nothing at the bottom: 2^30 cheap calls, so it runs until the deadline or the budget. */
export function doublingCallsTemplate(salt = ''): string {
  return doubling(30, '', salt);
}

/** About `bytes` of distinct, valid template; a parsed one holds ~85× its source (about 210,000 parse nodes per MB). */
export function largeTemplate(bytes: number, salt: string): string {
  const line = (n: number) => `K${n}_${salt}={{ if .Secrets.A }}{{ .Secrets.A | quote }}{{ end }}\n`;
  const lines: string[] = [];
  let size = 0;
  for (let n = 0; size + line(n).length <= bytes; n++) {
    lines.push(line(n));
    size += line(n).length;
  }
  return lines.join('');
}
