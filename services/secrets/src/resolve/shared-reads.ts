/**
 * Lets identical reads that arrive together share one database round trip. A read is queued until the current
 * macrotask's callbacks have run (every request parsed from the same socket read has reached it by then); reads with
 * the same key that join meanwhile get the same result. The query starts only after its last joiner arrived, so each
 * caller still sees every write committed before its own request was received: no read is served older data than it
 * would have read alone. A lone read pays one macrotask (microseconds) of delay.
 */
export class SharedReads<T> {
  private readonly queued = new Map<string, Promise<T>>();

  read(key: string, query: () => Promise<T>): Promise<T> {
    const joined = this.queued.get(key);
    if (joined !== undefined) return joined;
    const started = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
      this.queued.delete(key);
      return query();
    });
    this.queued.set(key, started);
    return started;
  }
}
