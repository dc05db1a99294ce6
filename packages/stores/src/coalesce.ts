/**
 * Requests made while `parallel` round trips are running wait and leave together in the next one, at most `max`
 * at a time: under load one round trip serves many callers, and a lone caller waits for no timer.
 *
 * `run` answers a list of requests in order; if it throws, every request it was given fails with that error.
 */
export class Coalescer<Req, Res> {
  private waiting: { req: Req; resolve: (r: Res) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;
  private idlers: (() => void)[] = [];

  constructor(
    private readonly run: (reqs: Req[]) => Promise<Res[]>,
    private readonly opts: { parallel: number; max: number },
  ) {}

  request(req: Req): Promise<Res> {
    return new Promise((resolve, reject) => {
      this.waiting.push({ req, resolve, reject });
      // The rest of this turn's requests join the same round trip.
      if (this.waiting.length === 1) setImmediate(() => this.next());
    });
  }

  /** Resolves once every request made so far is answered. */
  idle(): Promise<void> {
    if (!this.running && !this.waiting.length) return Promise.resolve();
    return new Promise((resolve) => this.idlers.push(resolve));
  }

  private next(): void {
    while (this.running < this.opts.parallel && this.waiting.length) {
      const taken = this.waiting.splice(0, this.opts.max);
      this.running++;
      this.run(taken.map((t) => t.req))
        .then(
          (results) => taken.forEach((t, i) => t.resolve(results[i] as Res)),
          (e: unknown) => taken.forEach((t) => t.reject(e)),
        )
        .finally(() => {
          this.running--;
          this.next();
          if (this.running) return;
          for (const resolve of this.idlers.splice(0)) resolve();
        });
    }
  }
}
