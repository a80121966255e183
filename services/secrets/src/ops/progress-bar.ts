import { SingleBar } from 'cli-progress';

export interface ProgressBar {
  update(done: number, total: number, extra?: object): void;
  stop(): void;
}

/** A progress bar on stderr (stdout stays the result), started on the first report; the ops commands' and the CLI's. */
export function progressBar(format: string): ProgressBar {
  const bar = new SingleBar({ stream: process.stderr, format, hideCursor: true });
  let started = false;
  return {
    update(done, total, extra = {}) {
      if (!started) bar.start(total, done, extra);
      else bar.update(done, extra);
      bar.setTotal(total);
      started = true;
    },
    stop: () => started && bar.stop(),
  };
}
