/** A tiny typed event emitter that runs in browsers and Node alike (no `events` module). */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Listener = (...args: any[]) => void;

export class TypedEmitter<Events extends { [K in keyof Events]: Listener }> {
  private readonly listeners = new Map<keyof Events, Set<Listener>>();

  /** Adds a listener; returns a function that removes it. */
  on<E extends keyof Events>(event: E, listener: Events[E]): () => void {
    let set = this.listeners.get(event);
    if (!set) this.listeners.set(event, (set = new Set()));
    set.add(listener);
    return () => this.off(event, listener);
  }

  off<E extends keyof Events>(event: E, listener: Events[E]): void {
    this.listeners.get(event)?.delete(listener);
  }

  /** Calls every listener; returns what the listeners threw, so the caller decides how to report it. */
  protected emit<E extends keyof Events>(event: E, ...args: Parameters<Events[E]>): unknown[] {
    const thrown: unknown[] = [];
    for (const listener of [...(this.listeners.get(event) ?? [])]) {
      try {
        listener(...args);
      } catch (err) {
        thrown.push(err);
      }
    }
    return thrown;
  }
}
