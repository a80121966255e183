/**
 * Sends the outbox's wake-up after commits, at most one NOTIFY in flight; commits meanwhile share the next.
 * NOTIFY inside the append transaction would serialise every commit (Postgres holds a global lock on the
 * notification queue through the WAL flush), which defeats group commit under concurrent appends.
 */
export class CommitNotifier {
  private sending?: Promise<void>;
  private pending = false;

  constructor(private readonly send: () => Promise<unknown>) {}

  committed(): void {
    if (this.sending) {
      this.pending = true;
      return;
    }
    this.sending = this.flush();
  }

  /** Resolves when no wake-up is in flight (before closing the pool). */
  async idle(): Promise<void> {
    await this.sending;
  }

  private async flush(): Promise<void> {
    do {
      this.pending = false;
      // A lost wake-up only delays the outbox until its next poll.
      await this.send().catch(() => undefined);
    } while (this.pending);
    this.sending = undefined;
  }
}
