/**
 * Per-adapter serialization: what plans an adapter's batches and what moves its version
 * boundaries run one at a time, so a batch is never planned across a boundary being set.
 */
export class AdapterLocks {
  private readonly tails = new Map<string, Promise<unknown>>();

  run<T>(adapterKey: string, f: () => Promise<T>): Promise<T> {
    const next = (this.tails.get(adapterKey) ?? Promise.resolve()).catch(() => undefined).then(f);
    const tail = next.catch(() => undefined);
    this.tails.set(adapterKey, tail);
    void tail.then(() => {
      if (this.tails.get(adapterKey) === tail) this.tails.delete(adapterKey);
    });
    return next;
  }
}
