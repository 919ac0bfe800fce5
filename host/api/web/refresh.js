// Overlapping refreshes: a newer one aborts the older one's requests, and an
// older answer that arrives anyway (the abort came too late) is dropped, so
// a stale answer never paints over a newer one. No DOM, no imports: the
// browser test loads this module on its own.

/** The work was superseded by a newer refresh (or sign-out) and was dropped. */
export class Aborted extends Error {
  constructor() {
    super('superseded');
    this.name = 'Aborted';
  }
}

/** One slot of "the refresh in flight"; each `run` replaces the previous one. */
export class Latest {
  constructor() {
    this.generation = 0;
    this.controller = null;
  }

  /**
   * Runs `load(signal)` as the newest refresh, aborting the one before.
   * When it is still the newest once `load` settles, `paint(value)` runs at
   * once (no await between the check and the paint, so nothing newer can
   * slip in) and its result is returned. Otherwise this rejects with
   * `Aborted`, whatever `load` did: a superseded failure is not shown either.
   */
  async run(load, paint) {
    this.cancel();
    const generation = this.generation;
    const controller = new AbortController();
    this.controller = controller;
    const current = () => generation === this.generation && !controller.signal.aborted;
    let value;
    try {
      value = await load(controller.signal);
    } catch (e) {
      if (!current()) throw new Aborted();
      throw e;
    }
    if (!current()) throw new Aborted();
    if (this.controller === controller) this.controller = null;
    return paint(value);
  }

  /** Aborts the refresh in flight, if any; its answer will not paint. */
  cancel() {
    this.generation += 1;
    if (this.controller) this.controller.abort();
    this.controller = null;
  }
}
