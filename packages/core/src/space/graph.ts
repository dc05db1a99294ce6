import { compare, equal, toHex } from '../bytes.js';
import { reject } from '../errors.js';
import type { Entry } from '../entry.js';
import { canRead, canWrite, spaceIdOf, type MembershipOp, type Role } from './ops.js';

export interface OpNode {
  id: string;
  entry: Entry;
  op: MembershipOp;
  author: string;
  depth: number;
  /** This op and every op in its causal past. */
  ancestors: Set<string>;
  /** Roles after this op, folding its causal past in (depth, id) order. */
  roles: Map<string, Role>;
  /** The epoch this op's writers use: the last epoch-carrying op in its causal past. */
  epoch: string | undefined;
}

const byOrder = (a: OpNode, b: OpNode): number => a.depth - b.depth || compare(a.entry.id, b.entry.id);

function fold(nodes: OpNode[]): Map<string, Role> {
  const roles = new Map<string, Role>();
  for (const n of nodes.sort(byOrder)) {
    const { op } = n;
    if (op.t === 'create') roles.set(toHex(op.creator!), 'admin');
    else if (op.t === 'set-role') roles.set(toHex(op.account!), op.role!);
    else if (op.t === 'remove') roles.delete(toHex(op.account!));
  }
  return roles;
}

/**
 * A space's membership log as a DAG of signed operations. An operation is valid when its author is an admin in
 * the state of its own causal past, so validity never changes once decided, and every replica that holds the
 * same operations computes the same state by folding them in (depth, id) order.
 */
export class SpaceGraph {
  readonly nodes = new Map<string, OpNode>();
  isPublic = false;
  /** Inbox: accounts that are not members may still append. */
  openAppend = false;
  private creator: Uint8Array | undefined;

  constructor(readonly space: Uint8Array) {}

  get created(): boolean {
    return this.creator !== undefined;
  }

  private closure(deps: string[]): Set<string> {
    const all = new Set<string>();
    for (const d of deps) for (const a of this.nodes.get(d)!.ancestors) all.add(a);
    return all;
  }

  private nodesOf(ids: Iterable<string>): OpNode[] {
    return [...ids].map((i) => this.nodes.get(i)!);
  }

  /** Roles in the causal past made of these heads. */
  rolesAfter(deps: string[]): Map<string, Role> {
    return fold(this.nodesOf(this.closure(deps)));
  }

  /** Checks a membership op against its causal past and adds it, or throws the typed reason it is invalid. */
  add(entry: Entry, op: MembershipOp, author: Uint8Array, guard?: (node: OpNode) => void): OpNode {
    const id = toHex(entry.id);
    const existing = this.nodes.get(id);
    if (existing) return existing;
    const authorHex = toHex(author);
    if (op.t === 'create') {
      if (!equal(op.creator!, author)) reject('forbidden-role', 'a space is created by its creator account only');
      if (!equal(spaceIdOf(op.creator!, op.nonce!, op.public!), this.space)) reject('bad-id', 'space id does not match its create operation');
      if (this.creator) reject('fork', 'this space already has a create operation');
    } else if (!this.creator) {
      reject('missing-dependency', 'the space create operation is not known yet');
    }
    const deps = op.deps.map(toHex);
    for (const d of deps) if (!this.nodes.has(d)) reject('missing-dependency', `membership op depends on unknown op ${d.slice(0, 12)}`);
    const isPublic = op.t === 'create' ? op.public! : this.isPublic;
    const before = op.t === 'create' ? new Map<string, Role>() : this.rolesAfter(deps);
    if (op.t !== 'create' && before.get(authorHex) !== 'admin') reject('forbidden-role', 'only an admin may change the membership of a space');
    // Whoever loses read access must not be able to read what comes next.
    const losesRead = op.t === 'set-role' && canRead(before.get(toHex(op.account!))) && !canRead(op.role);
    const rotates = op.t === 'create' || op.t === 'remove' || op.t === 'rotate' || losesRead;
    if (isPublic && (op.epoch || op.grants)) reject('bad-epoch', 'a public space has no epoch keys');
    if (!isPublic && rotates && !op.epoch) reject('bad-epoch', `${op.t} in a private space must rotate the epoch key`);
    const ancestors = this.closure(deps);
    ancestors.add(id);
    const depth = 1 + Math.max(0, ...deps.map((d) => this.nodes.get(d)!.depth));
    const node: OpNode = { id, entry, op, author: authorHex, depth, ancestors, roles: new Map(), epoch: undefined };
    const past = [...this.nodesOf([...ancestors].filter((a) => a !== id)), node].sort(byOrder);
    node.roles = fold(past);
    node.epoch = past.filter((n) => n.op.epoch).pop()?.id;
    guard?.(node);
    this.nodes.set(id, node);
    this.cached = undefined;
    if (op.t === 'create') {
      this.creator = op.creator!;
      this.isPublic = op.public!;
      this.openAppend = op.inbox === true;
    }
    return node;
  }

  /** An account's role under a basis, counting an inbox's open append right. */
  roleAt(basis: OpNode, account: string, forAppend: boolean): Role | undefined {
    return basis.roles.get(account) ?? (forAppend && this.openAppend ? 'appender' : undefined);
  }

  get creatorAccount(): Uint8Array | undefined {
    return this.creator;
  }

  /** The ops no other op depends on: what a new op lists as its deps. */
  heads(): string[] {
    const referenced = new Set<string>();
    for (const n of this.nodes.values()) for (const d of n.op.deps) referenced.add(toHex(d));
    return [...this.nodes.keys()].filter((k) => !referenced.has(k)).sort();
  }

  private cached: { roles: Map<string, Role>; epoch: string | undefined; order: OpNode[] } | undefined;

  /** The state after every op held; computed once per change, since every entry's check asks for it. */
  current(): { roles: Map<string, Role>; epoch: string | undefined; order: OpNode[] } {
    if (!this.cached) {
      const order = [...this.nodes.values()].sort(byOrder);
      this.cached = { roles: fold([...order]), epoch: order.filter((n) => n.op.epoch).pop()?.id, order };
    }
    return this.cached;
  }

  /**
   * Whether an entry by `device` of `account` with sequence `seq`, written under `basis`, comes after a demotion
   * the basis does not know of. Such entries are rejected everywhere: a removed writer cannot keep writing by
   * pretending not to have seen the removal.
   */
  isCut(account: string, device: Uint8Array, seq: number, basis: OpNode, stillAllowed: (r: Role | undefined) => boolean = canWrite): boolean {
    for (const n of this.nodes.values()) {
      const { op } = n;
      if (!op.account || toHex(op.account) !== account || basis.ancestors.has(n.id)) continue;
      if (op.t !== 'remove' && stillAllowed(op.role)) continue;
      const cut = op.cuts?.find(([d]) => equal(d, device))?.[1] ?? 0;
      if (seq > cut) return true;
    }
    return false;
  }
}
