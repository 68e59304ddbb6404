// Who wants to hear of one kind of change (a connection established or closed, a registration
// made or gone): told synchronously, in the order they subscribed.
export class Listeners<E> {
  private readonly all = new Set<(event: E) => void>();

  get size(): number {
    return this.all.size;
  }

  /** Adds `listener`; the function returned removes it. */
  add(listener: (event: E) => void): () => void {
    this.all.add(listener);
    return () => void this.all.delete(listener);
  }

  /** Tells every listener. A listener that throws keeps neither the others nor the change itself from happening. */
  emit(event: E): void {
    for (const listener of [...this.all]) {
      try {
        listener(event);
      } catch {
        // a listener's own failure is its own: the change already happened
      }
    }
  }
}
