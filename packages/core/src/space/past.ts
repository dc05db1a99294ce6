import type { Map as PersistentMap } from 'immutable';
import type { MembershipOp } from './ops.js';

/**
 * A membership op and what is known of its causal past. Nothing here grows with the size of the past: ops with
 * one dependency form runs that share one persistent map of who was named last, and an op's place in its run is
 * found through skip pointers, so a long log costs memory and time in proportion to its length.
 */
export interface OpNode {
  /** The membership entry's id, in hex. */
  readonly id: string;
  /** The same id as bytes: what an entry names as its basis. */
  readonly entryId: Uint8Array;
  readonly op: MembershipOp;
  readonly author: string;
  readonly depth: number;
  /** The account whose role this op decides: the one it sets or removes, or the creator of the space. */
  readonly names: string | undefined;
  /** The epoch this op's writers use: the last epoch-carrying op in its causal past. */
  readonly epoch: string | undefined;
  readonly deps: readonly OpNode[];
  /** When this replica added the op: an op added later is never in the past of one added earlier. */
  readonly arrival: number;
  /** The dependency of an op with exactly one; runs of such ops are walked with `parent` and `skip`. */
  readonly parent: OpNode | undefined;
  /** An earlier op of the same run, at skew-binary distances (level-ancestor queries in O(log n) steps). */
  readonly skip: OpNode | undefined;
  /** The op with several dependencies this run starts at (itself, if it has several); none for create's run. */
  readonly bottom: OpNode | undefined;
  /** Account -> the last op of this run that set or removed its role; shared along the run, changed by path copy. */
  readonly run: PersistentMap<string, OpNode>;
  /** Every op naming the same account that this replica added before this one is in this op's past. */
  readonly settled: boolean;
}

/** The order in which ops fold: by depth, then by id (hex ids sort as their bytes do). */
export const after = (a: OpNode, b: OpNode): boolean => a.depth > b.depth || (a.depth === b.depth && a.id > b.id);

export const later = (a: OpNode | undefined, b: OpNode | undefined): OpNode | undefined =>
  a === undefined ? b : b === undefined || after(a, b) ? a : b;

/** The first op of a run: where the walk towards the root has to branch. */
const runFloor = (n: OpNode): number => n.bottom?.depth ?? 1;

/** The op at `depth` on `n`'s run (callers keep `depth` within the run). */
function levelAncestor(n: OpNode, depth: number): OpNode {
  let x = n;
  while (x.depth > depth) x = x.skip && x.skip.depth >= depth ? x.skip : x.parent!;
  return x;
}

/** Skip pointer of a new op whose single dependency is `parent` (Myers' skew-binary jump pointers). */
export function skipFor(parent: OpNode): OpNode {
  const s = parent.skip;
  return s?.skip && parent.depth - s.depth === s.depth - s.skip.depth ? s.skip : parent;
}

/**
 * Whether `d` is `b` or in its causal past. Runs are crossed in O(log n); only ops with several dependencies make
 * the walk branch, and nothing below `d`'s depth is visited.
 */
export function inPast(d: OpNode, b: OpNode): boolean {
  if (d.depth > b.depth) return false;
  const stack = [b];
  const seen = new Set<OpNode>();
  while (stack.length) {
    const x = stack.pop()!;
    if (d.depth >= runFloor(x)) {
      if (levelAncestor(x, d.depth) === d) return true;
      continue;
    }
    const bottom = x.bottom!;
    if (seen.has(bottom)) continue;
    seen.add(bottom);
    for (const p of bottom.deps) if (p.depth >= d.depth) stack.push(p);
  }
  return false;
}

/** A max-heap of ops in fold order. */
class Latest {
  private readonly items: OpNode[] = [];

  get size(): number {
    return this.items.length;
  }

  push(n: OpNode): void {
    const a = this.items;
    let i = a.push(n) - 1;
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (!after(a[i]!, a[up]!)) break;
      [a[i], a[up]] = [a[up]!, a[i]!];
      i = up;
    }
  }

  pop(): OpNode {
    const a = this.items;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length) {
      a[0] = last;
      for (let i = 0; ; ) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && after(a[l]!, a[m]!)) m = l;
        if (r < a.length && after(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

/**
 * The last op in fold order, among `starts` and their causal past, that names `account` (sets or removes its
 * role, or creates the space for it): the op that decides its role there. Searches newest first and stops as
 * soon as nothing older can win; `floor` is the lowest depth at which the account is named at all.
 * `below(bottom)` answers for the past of an op with several dependencies when that is already known.
 */
export function lastNaming(
  account: string,
  starts: readonly OpNode[],
  floor: number,
  below: (bottom: OpNode) => OpNode | null | undefined,
): OpNode | undefined {
  let best: OpNode | undefined;
  const heap = new Latest();
  const seen = new Set<OpNode>();
  for (const s of starts) heap.push(s);
  while (heap.size) {
    const x = heap.pop();
    if ((best && after(best, x)) || x.depth < floor) break;
    if (seen.has(x)) continue;
    seen.add(x);
    const named = x.run.get(account);
    if (named) {
      best = later(best, named);
      continue;
    }
    const bottom = x.bottom;
    if (!bottom || (bottom !== x && seen.has(bottom))) continue;
    seen.add(bottom);
    const known = below(bottom);
    if (known === undefined) for (const p of bottom.deps) heap.push(p);
    else best = later(best, known ?? undefined);
  }
  return best;
}
