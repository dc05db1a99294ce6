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

/** Answers kept for ops with several dependencies, so each is worked out once per question. */
export interface Memo<T> {
  get(merge: OpNode): T | null | undefined;
  set(merge: OpNode, answer: T | null): void;
}

/**
 * A question about the causal past of `merge`, an op with several dependencies, answered from its dependencies:
 * `inRun(x)` answers for x's run or is undefined to look below it, `skip(x)` says nothing in x's past matters,
 * `join` combines, and `settled` says an answer cannot change any more. Walks the ops with several dependencies
 * below, depth first without recursion, and memoises the answer for each, so that later questions anywhere above
 * them stop there.
 */
function below<T>(
  merge: OpNode,
  inRun: (x: OpNode) => T | undefined,
  skip: (x: OpNode) => boolean,
  join: (a: T | undefined, b: T | undefined) => T | undefined,
  settled: (a: T | undefined) => boolean,
  memo: Memo<T>,
): T | undefined {
  const known = memo.get(merge);
  if (known !== undefined) return known ?? undefined;
  const stack: { m: OpNode; next: number; answer: T | undefined }[] = [{ m: merge, next: 0, answer: undefined }];
  for (;;) {
    const top = stack.at(-1)!;
    const d = settled(top.answer) ? undefined : top.m.deps[top.next++];
    if (!d) {
      stack.pop();
      memo.set(top.m, top.answer ?? null);
      const parent = stack.at(-1);
      if (!parent) return top.answer;
      parent.answer = join(parent.answer, top.answer);
      continue;
    }
    if (skip(d)) continue;
    const here = inRun(d);
    if (here !== undefined || !d.bottom) {
      top.answer = join(top.answer, here);
      continue;
    }
    const seen = memo.get(d.bottom);
    if (seen !== undefined) top.answer = join(top.answer, seen ?? undefined);
    else stack.push({ m: d.bottom, next: 0, answer: undefined });
  }
}

/**
 * Whether `d` is `b` or in its causal past. Runs are crossed in O(log n) by skip pointers; below them, each op
 * with several dependencies is looked at once and remembered in `memo()`.
 */
export function inPast(d: OpNode, b: OpNode, memo: () => Memo<boolean>): boolean {
  if (d.depth > b.depth) return false;
  const inRun = (x: OpNode): boolean | undefined => (d.depth >= runFloor(x) ? levelAncestor(x, d.depth) === d : undefined);
  const found = (a: boolean | undefined) => a === true;
  return inRun(b) ?? found(below(b.bottom!, inRun, (x) => x.depth < d.depth, (p, q) => p || q, found, memo()));
}

const never = () => false;

/**
 * The last op in fold order, in the causal past of `merge` (an op with several dependencies, itself left out),
 * that names `account`: with the ops of the runs above, the op that decides the account's role. `floor` is the
 * lowest depth at which any op names the account: nothing below it is looked at.
 */
export function lastNamingBelow(account: string, merge: OpNode, floor: number, memo: Memo<OpNode>): OpNode | undefined {
  if (merge.depth <= floor) return undefined;
  return below(merge, (x) => x.run.get(account), (x) => x.depth < floor, later, never, memo);
}
