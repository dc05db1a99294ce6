import type { IDBPDatabase, IDBPObjectStore } from 'idb';

export type EntriesStore = IDBPObjectStore<unknown, ['entries'], 'entries', 'readonly'>;

/**
 * Reads of the entries store asked for in one turn of the event loop share one read-only transaction. Each
 * transaction costs a round trip to the browser's storage process, and opening a timeline asks hundreds of small
 * reads at once (a membership graph per followed space, a document per post on screen).
 */
export class BatchedReads {
  private pending: ((store: EntriesStore) => void)[] = [];

  constructor(private readonly db: IDBPDatabase) {}

  /** `f` may issue any number of requests, one after another, but must await nothing else: the transaction ends once none is pending. */
  read<T>(f: (store: EntriesStore) => Promise<T>): Promise<T> {
    return new Promise<T>((resolve, fail) => {
      if (!this.pending.length) queueMicrotask(() => this.flush());
      this.pending.push((store) => f(store).then(resolve, fail));
    });
  }

  private flush(): void {
    const batch = this.pending;
    this.pending = [];
    const tx = this.db.transaction('entries');
    for (const run of batch) run(tx.store);
    // A failed request fails its own read; the transaction's end says nothing more.
    tx.done.catch(() => {});
  }
}
