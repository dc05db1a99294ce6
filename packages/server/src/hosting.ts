import { Kind, reject, toHex, toId, type Charge, type Entry, type EntryRow, type IngestOptions, type Replica, type SpaceGraph } from '@freehold/core';
import type { IngestSource, InboxPolicy } from './inbox.js';
import type { Mirrors } from './mirrors.js';
import type { Registrations } from './registrations.js';

/** Applies the inbox rules to a non-member's append (see InboxPolicy.admit), once per entry in one ingest. */
type Admit = (e: Entry, author: Uint8Array) => Promise<'sender' | 'inbox'>;

export interface HostingDeps {
  host: string;
  publicUrl: string;
  replica: Replica;
  registered: Registrations;
  mirrors: Mirrors;
  inbox: InboxPolicy;
  isRegistered(account: Uint8Array): boolean;
}

/** A provider's rules for what it stores: who pays for each entry, and who is paid back when a prune takes one out. */
export class Hosting {
  constructor(private readonly d: HostingDeps) {}

  /** The rules for one ingest of a session's frames. */
  rules(from?: IngestSource): IngestOptions {
    // A batch validated again after a `stale` refusal meets the inbox rules again: each entry takes its tokens once.
    const admitted = new Map<string, Promise<'sender' | 'inbox'>>();
    const admit: Admit = (e, author) => {
      const k = toHex(e.id);
      let payer = admitted.get(k);
      if (!payer) admitted.set(k, (payer = this.d.inbox.admit(e, author, from)));
      return payer;
    };
    return { host: (e, graph) => this.charge(e, graph, from, admit), refund: (row, graph) => this.refund(row, graph) };
  }

  /**
   * Who pays for an entry: its author if hosted here, else the space's creator; otherwise it is not ours to
   * keep. A non-member's append to an inbox goes through the inbox policy (rate limits, stranger allowance).
   * An author or creator this node has not seen registered (through another node) is looked up first, except for
   * a membership operation, which is answered at once (see HostPolicy): its lookup serves the next time it is offered.
   */
  private charge(e: Entry, graph: SpaceGraph, from: IngestSource | undefined, admit: Admit): Charge | undefined | Promise<Charge | undefined> {
    const author = this.d.replica.authorOf(e.device)!.account.account;
    const creator = graph.creatorAccount;
    const unseen = [author, ...(creator ? [creator] : [])].filter((a) => !this.d.registered.has(a));
    if (e.kind === Kind.membership) for (const a of unseen) void this.d.registered.check(a, true).catch(() => {});
    if (e.kind === Kind.membership || !unseen.length) return this.chargeAs(e, graph, from, admit, author);
    return Promise.all(unseen.map((a) => this.d.registered.check(a, true))).then(() => this.chargeAs(e, graph, from, admit, author));
  }

  private chargeAs(e: Entry, graph: SpaceGraph, from: IngestSource | undefined, admit: Admit, author: Uint8Array): Charge | undefined | Promise<Charge> {
    const hosted = this.d.isRegistered(author);
    const member = graph.nodes.size > 0 && graph.current().roles.has(toHex(author));
    const bytes = e.bytes.length;
    // A copy kept for this provider's users is nobody's to pay for: what accounts hosted elsewhere wrote, as the
    // owner's providers took it in (a stranger's message to an inbox only from them, who applied their inbox rules).
    const fromPeer = from?.source.startsWith('provider:') ?? false;
    if (!hosted && this.d.mirrors.get(e.space) && (e.kind !== Kind.append || member || fromPeer)) return undefined;
    if (e.kind === Kind.append && !member) {
      const creator = graph.creatorAccount!;
      return admit(e, author).then((payer) => ({ account: payer === 'sender' ? author : creator, bytes }));
    }
    if (hosted) return { account: author, bytes };
    const creator = graph.creatorAccount;
    if (creator && this.d.isRegistered(creator)) return { account: creator, bytes };
    return reject('not-hosted', `account ${toId(author)} is not registered with ${this.d.host} (run \`freehold provider add ${this.d.publicUrl}\`)`);
  }

  /**
   * Who paid for holding a blob chunk that a prune takes out, by the rule that charged it (see chargeAs): its author
   * if hosted here, else nobody for a mirror's copy, else the space's creator if hosted here.
   */
  private refund(row: EntryRow, graph: SpaceGraph): Charge | undefined {
    const author = this.d.replica.authorOf(row.device)?.account.account;
    const bytes = row.bytes.length;
    if (author && this.d.isRegistered(author)) return { account: author, bytes };
    const creator = graph.creatorAccount;
    if (this.d.mirrors.get(row.space) || !creator || !this.d.isRegistered(creator)) return undefined;
    return { account: creator, bytes };
  }
}
