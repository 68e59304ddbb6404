// Changes as a server stream: subscribed at once (before the caller lists what is there, so
// nothing in between is missed), read in order by one reader, ended by the call's signal or end().
export class ChangeStream<C> implements AsyncIterable<C> {
  private readonly pending: C[] = [];
  private wake: (() => void) | undefined;
  private ended = false;
  private readonly unsubscribe: () => void;

  constructor(subscribe: (push: (change: C) => void) => () => void, signal: AbortSignal) {
    this.unsubscribe = subscribe((change) => {
      if (this.ended) return;
      this.pending.push(change);
      this.wake?.();
    });
    if (signal.aborted) this.end();
    else signal.addEventListener("abort", () => this.end(), { once: true });
  }

  /** Unsubscribes; the reader gets what is pending and then the end. */
  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.unsubscribe();
    this.wake?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<C> {
    try {
      for (;;) {
        while (this.pending.length > 0) yield this.pending.shift() as C;
        if (this.ended) return;
        await new Promise<void>((resolve) => (this.wake = resolve));
        this.wake = undefined;
      }
    } finally {
      this.end();
    }
  }
}
