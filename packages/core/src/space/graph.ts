import { Map as PersistentMap } from 'immutable';
import { equal, toHex } from '../bytes.js';
import { reject } from '../errors.js';
import { canRead, canWrite, spaceIdOf, type MembershipOp, type Role, type Seal } from './ops.js';
import { after, inPast, lastNamingBelow, later, skipFor, type Memo, type OpNode } from './past.js';

export type { OpNode } from './past.js';

type Building = { -readonly [K in keyof OpNode]: OpNode[K] };

/** Answers kept about the past of ops with several dependencies: a few per op held, so memory stays O(n). */
const MEMO_PER_OP = 4;
const MEMO_MIN = 4096;

const EMPTY_RUN = PersistentMap<string, OpNode>();

/** The account whose role an op decides: the one it sets or removes, or the creator of the space. */
const namedBy = (op: MembershipOp): string | undefined =>
  op.t === 'create' ? toHex(op.creator!) : op.account ? toHex(op.account) : undefined;

const roleSetBy = (n: OpNode | undefined): Role | undefined =>
  n?.op.t === 'create' ? 'admin' : n?.op.t === 'set-role' ? n.op.role : undefined;

/**
 * A space's membership log as a DAG of signed operations. An operation is valid when its author is an admin in
 * the state of its own causal past, so validity never changes once decided, and every replica that holds the
 * same operations computes the same state by folding them in (depth, id) order.
 *
 * A fold is last-writer-wins per account, so the state anywhere is "which op named each account last". That is
 * kept incrementally (see past.ts): adding an op costs O(log n) along a run of single-dependency ops, and a
 * question about the past below a merge is answered once from its dependencies and memoised; nothing is copied.
 */
export class SpaceGraph {
  readonly nodes = new Map<string, OpNode>();
  isPublic = false;
  /** Inbox: accounts that are not members may still append. */
  openAppend = false;
  private creator: Uint8Array | undefined;
  private first: OpNode | undefined;
  private last: OpNode | undefined;
  private lastEpoch: OpNode | undefined;
  private readonly tips = new Set<string>();
  /** Per account: the lowest depth any op names it at, and the ops naming it in `account`, as added. */
  private readonly naming = new Map<string, { floor: number; ops: OpNode[] }>();
  /** The state after every op held: per account, the op that named it last, and the role that op left. */
  private readonly deciders = new Map<string, OpNode>();
  private readonly roles = new Map<string, Role>();
  /** Per question (an account's role, or whether an op is in the past), answers per op with several dependencies. */
  private readonly memo = new Map<string, Map<OpNode, OpNode | boolean | null>>();
  private memoSize = 0;
  private readonly grants = new Map<string, (Seal & { epoch: Uint8Array })[]>();
  private readonly carriers = new Map<string, { epoch: string; box: Uint8Array }[]>();

  constructor(readonly space: Uint8Array) {}

  get created(): boolean {
    return this.creator !== undefined;
  }

  get creatorAccount(): Uint8Array | undefined {
    return this.creator;
  }

  /** The create op. */
  get root(): OpNode | undefined {
    return this.first;
  }

  /** The last op in fold order: the basis a writer names. */
  get latest(): OpNode | undefined {
    return this.last;
  }

  /**
   * Checks a membership op (the entry with id `entryId`, signed by a device of `author`) against its causal past
   * and adds it, or throws the typed reason it is invalid.
   */
  add(entryId: Uint8Array, op: MembershipOp, author: Uint8Array, guard?: (node: OpNode) => void): OpNode {
    const id = toHex(entryId);
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
    const deps = [...new Set(op.deps.map(toHex))].map(
      (d) => this.nodes.get(d) ?? reject('missing-dependency', `membership op depends on unknown op ${d.slice(0, 12)}`),
    );
    const node = this.node(id, entryId, op, authorHex, deps);
    const isPublic = op.t === 'create' ? op.public! : this.isPublic;
    if (op.t !== 'create' && roleSetBy(this.lastBefore(node, authorHex)) !== 'admin') {
      reject('forbidden-role', 'only an admin may change the membership of a space');
    }
    // Whoever loses read access must not be able to read what comes next.
    const losesRead = op.t === 'set-role' && !canRead(op.role) && canRead(roleSetBy(this.lastBefore(node, node.names!)));
    const rotates = op.t === 'create' || op.t === 'remove' || op.t === 'rotate' || losesRead;
    if (isPublic && (op.epoch || op.grants)) reject('bad-epoch', 'a public space has no epoch keys');
    if (!isPublic && rotates && !op.epoch) reject('bad-epoch', `${op.t} in a private space must rotate the epoch key`);
    guard?.(node);
    this.commit(node);
    if (op.t === 'create') {
      this.creator = op.creator!;
      this.isPublic = op.public!;
      this.openAppend = op.inbox === true;
    }
    return node;
  }

  private node(id: string, entryId: Uint8Array, op: MembershipOp, author: string, deps: OpNode[]): Building {
    const parent = deps.length === 1 ? deps[0] : undefined;
    let epoch: OpNode | undefined;
    for (const d of deps) epoch = later(epoch, d.epoch === undefined ? undefined : this.nodes.get(d.epoch));
    const node: Building = {
      id,
      entryId,
      op,
      author,
      depth: 1 + Math.max(0, ...deps.map((d) => d.depth)),
      names: namedBy(op),
      epoch: op.epoch ? id : epoch?.id,
      deps,
      arrival: this.nodes.size,
      parent,
      skip: parent && skipFor(parent),
      bottom: parent ? parent.bottom : undefined,
      run: parent ? parent.run : EMPTY_RUN,
      settled: true,
    };
    if (deps.length > 1) node.bottom = node;
    if (node.names) node.run = node.run.set(node.names, node);
    return node;
  }

  private commit(node: Building): void {
    this.nodes.set(node.id, node);
    for (const d of node.deps) this.tips.delete(d.id);
    this.tips.add(node.id);
    this.last = later(this.last, node);
    if (node.op.epoch) this.lastEpoch = later(this.lastEpoch, node);
    this.first ??= node;
    const { op, names } = node;
    if (names) {
      let named = this.naming.get(names);
      if (!named) this.naming.set(names, (named = { floor: node.depth, ops: [] }));
      named.floor = Math.min(named.floor, node.depth);
      if (op.account) {
        const prev = named.ops.at(-1);
        node.settled = !prev || (prev.settled && this.inPast(prev, node));
        named.ops.push(node);
      }
      const decider = this.deciders.get(names);
      if (!decider || after(node, decider)) {
        this.deciders.set(names, node);
        const role = roleSetBy(node);
        if (role) this.roles.set(names, role);
        else this.roles.delete(names);
      }
    }
    for (const g of op.grants ?? []) this.listed(this.grants, toHex(g.epoch)).push(g);
    for (const p of op.epoch?.prev ?? []) this.listed(this.carriers, toHex(p.epoch)).push({ epoch: node.id, box: p.box });
  }

  private listed<T>(index: Map<string, T[]>, key: string): T[] {
    let list = index.get(key);
    if (!list) index.set(key, (list = []));
    return list;
  }

  /**
   * Memoised answers to one question, kept while the memo holds fewer than a few answers per op: past that, the
   * questions asked longest ago are forgotten. Keys are tagged, as an op may name any 32 bytes as an account.
   */
  private memoFor<T extends OpNode | boolean>(key: string): Memo<T> {
    const answers = this.memo.get(key) ?? new Map<OpNode, OpNode | boolean | null>();
    this.memo.delete(key);
    this.memo.set(key, answers);
    return {
      get: (m) => answers.get(m) as T | null | undefined,
      set: (m, answer) => {
        answers.set(m, answer);
        this.memoSize++;
        const limit = Math.max(MEMO_MIN, MEMO_PER_OP * this.nodes.size);
        for (const [k, held] of this.memo) {
          if (this.memoSize <= limit || held === answers) break;
          this.memo.delete(k);
          this.memoSize -= held.size;
        }
      },
    };
  }

  private inPast(d: OpNode, b: OpNode): boolean {
    return inPast(d, b, () => this.memoFor<boolean>(`p${d.id}`));
  }

  /** The op that decides `account`'s role in `n`'s causal past, `n` included. */
  private lastIn(n: OpNode, account: string): OpNode | undefined {
    return n.run.get(account) ?? (n.bottom ? this.lastBefore(n.bottom, account) : undefined);
  }

  /** The op that decides `account`'s role in `n`'s causal past, `n` left out. */
  private lastBefore(n: OpNode, account: string): OpNode | undefined {
    if (n.parent) return this.lastIn(n.parent, account);
    const named = this.naming.get(account);
    return named && n.deps.length ? lastNamingBelow(account, n, named.floor, this.memoFor<OpNode>(`r${account}`)) : undefined;
  }

  /** An account's role after an op (its causal past folded), without an inbox's open append right. */
  roleAfter(node: OpNode, account: string): Role | undefined {
    return roleSetBy(this.lastIn(node, account));
  }

  /** An account's role under a basis, counting an inbox's open append right. */
  roleAt(basis: OpNode, account: string, forAppend: boolean): Role | undefined {
    return this.roleAfter(basis, account) ?? (forAppend && this.openAppend ? 'appender' : undefined);
  }

  /** Whether any op sets or removes this account's role (a former member has one). */
  named(account: string): boolean {
    return (this.naming.get(account)?.ops.length ?? 0) > 0;
  }

  /** The ops no other op depends on: what a new op lists as its deps. */
  heads(): string[] {
    return [...this.tips].sort();
  }

  /** The state after every op held, kept up to date as ops are added (the map is live, not a copy). */
  current(): { roles: ReadonlyMap<string, Role>; epoch: string | undefined } {
    return { roles: this.roles, epoch: this.lastEpoch?.id };
  }

  /** Seals of an epoch's secret given to members added after it. */
  grantsOf(epoch: string): readonly (Seal & { epoch: Uint8Array })[] {
    return this.grants.get(epoch) ?? [];
  }

  /** Newer epochs that carry this epoch's secret, encrypted under their own. */
  carriersOf(epoch: string): readonly { epoch: string; box: Uint8Array }[] {
    return this.carriers.get(epoch) ?? [];
  }

  /**
   * Whether an entry by `device` of `account` with sequence `seq`, written under `basis`, comes after a demotion
   * the basis does not know of. Such entries are rejected everywhere: a removed writer cannot keep writing by
   * pretending not to have seen the removal.
   */
  isCut(account: string, device: Uint8Array, seq: number, basis: OpNode, stillAllowed: (r: Role | undefined) => boolean = canWrite): boolean {
    const ops = this.naming.get(account)?.ops ?? [];
    // Newest first; an op in the basis's past that is settled vouches for every op added before it.
    for (let i = ops.length - 1; i >= 0; i--) {
      const n = ops[i]!;
      const demotes = n.op.t === 'remove' || !stillAllowed(n.op.role);
      if (n.arrival <= basis.arrival && (n.settled || demotes) && this.inPast(n, basis)) {
        if (n.settled) break;
        continue;
      }
      if (demotes && seq > (n.op.cuts?.find(([d]) => equal(d, device))?.[1] ?? 0)) return true;
    }
    return false;
  }
}
