/** A tiny typed event emitter: the client's events are few and typed, and
 * browsers and Node disagree on EventTarget details, so a map of listener
 * sets is simpler than either. */

export class Emitter<Events extends object> {
  private readonly listeners = new Map<keyof Events, Set<(value: never) => void>>();

  /** Listen; returns the function that stops listening. */
  on<K extends keyof Events>(event: K, listener: (value: Events[K]) => void): () => void {
    let set = this.listeners.get(event);
    if (set === undefined) {
      set = new Set();
      this.listeners.set(event, set);
    }
    set.add(listener as (value: never) => void);
    return () => {
      set.delete(listener as (value: never) => void);
    };
  }

  /** Call every listener; one that throws does not stop the others. */
  protected emit<K extends keyof Events>(event: K, value: Events[K]): void {
    const set = this.listeners.get(event);
    if (set === undefined) return;
    for (const listener of [...set]) {
      try {
        (listener as (value: Events[K]) => void)(value);
      } catch (error) {
        // A bug in one listener must not stop delivery to the others.
        console.error("magpie-client: an event listener threw", error);
      }
    }
  }
}
