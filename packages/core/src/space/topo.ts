import { toHex } from '../bytes.js';
import type { Entry } from '../entry.js';
import { readMembershipOp } from './ops.js';

/** The ops a membership entry depends on; none if it does not decode (validation then says why). */
export function membershipDeps(e: Entry): string[] {
  try {
    return readMembershipOp(e.payload).deps.map(toHex);
  } catch {
    return [];
  }
}

/** Membership entries in an order in which each one's dependencies among them come first. */
export const inDependencyOrder = (entries: readonly Entry[]): Entry[] => dependencyOrder(entries, (e) => toHex(e.id), membershipDeps);

/**
 * Orders items so that each comes after those of its dependencies that are among the items (Kahn's algorithm,
 * items without such dependencies in their given order): one pass then adds a membership log however it arrived,
 * instead of a pass per item when the log comes newest first. Items caught in a cycle go last.
 */
export function dependencyOrder<T>(items: readonly T[], id: (item: T) => string, deps: (item: T) => readonly string[]): T[] {
  const index = new Map<string, number>();
  items.forEach((item, i) => index.set(id(item), i));
  const waiting = new Array<number>(items.length).fill(0);
  const children = new Map<number, number[]>();
  items.forEach((item, i) => {
    for (const d of new Set(deps(item))) {
      const j = index.get(d);
      if (j === undefined || j === i) continue;
      waiting[i]!++;
      let list = children.get(j);
      if (!list) children.set(j, (list = []));
      list.push(i);
    }
  });
  const order: number[] = [];
  for (let i = 0; i < items.length; i++) if (waiting[i] === 0) order.push(i);
  for (let k = 0; k < order.length; k++) {
    for (const c of children.get(order[k]!) ?? []) if (--waiting[c]! === 0) order.push(c);
  }
  const placed = new Set(order);
  for (let i = 0; i < items.length; i++) if (!placed.has(i)) order.push(i);
  return order.map((i) => items[i]!);
}
