import { equal, fromHex, toHex } from './bytes.js';
import { asArray, asBytes, asUint, decode, definedOnly, encode } from './codec.js';
import { FreeholdError, reject } from './errors.js';
import { boxKeyFromSecret, open, openSealed, randomBytes, seal, sealTo, SEAL_OVERHEAD, NONCE, TAG } from './crypto/suite.js';
import { createEntry, Kind, type Entry } from './entry.js';
import { addDevice, nameDevice, openAccountKeys, revokeDevice, rotateRecovery, setHandles, setProviders, type DeviceKeys, type NewDevice } from './identity/account.js';
import { accountKey, liveDevices, type IdentityState } from './identity/state.js';
import { MAX_DEVICE_NAME } from './identity/records.js';
import { checkContent } from './doc-payload.js';
import { Replica } from './replica.js';
import { SpaceGraph, type OpNode } from './space/graph.js';
import { canRead, canWrite, spaceIdOf, type MembershipOp, type Role } from './space/ops.js';
import { contentKey, EPOCH_SEAL, epochBoxKey, namesKey, newEpoch, openChained, privateDocId, publicDocId, sealEpoch, type Recipient } from './space/keyring.js';
import type { Store } from './store.js';

const APPEND_SEAL = 'append';
const seqKey = (device: Uint8Array) => `seq:${toHex(device)}`;

/**
 * This device acting for its account: it signs entries and membership ops, opens epoch keys sealed to the
 * account, and checks the plaintext of what it can read before storing it.
 */
export class Device {
  private accountSecrets = new Map<string, Uint8Array>();
  private secretsFor: Uint8Array | undefined;
  private epochSecrets = new Map<string, Uint8Array>();
  /** Derived once per epoch: every entry of the epoch is sealed under it. */
  private contentKeys = new Map<string, Uint8Array>();

  private constructor(
    readonly replica: Replica,
    readonly keys: DeviceKeys,
    readonly account: Uint8Array,
  ) {
    replica.contentCheck = (e, basis, graph) => this.checkReadable(e, basis, graph);
  }

  static async open(store: Store, keys: DeviceKeys, account: Uint8Array): Promise<Device> {
    return new Device(await Replica.open(store), keys, account);
  }

  get store(): Store {
    return this.replica.store;
  }

  get id(): Uint8Array {
    return this.keys.sign.publicKey;
  }

  identity(): IdentityState {
    return this.replica.contact(this.account) ?? reject('not-found', 'this account’s identity log is not in the replica yet');
  }

  private secrets(): Map<string, Uint8Array> {
    const me = this.identity();
    if (this.secretsFor !== me.head) {
      this.accountSecrets.clear();
      for (const secret of openAccountKeys(me, this.keys.box).values()) {
        this.accountSecrets.set(toHex(boxKeyFromSecret(secret).publicKey), secret);
      }
      this.secretsFor = me.head;
    }
    return this.accountSecrets;
  }

  currentAccountSecret(): Uint8Array {
    return this.secrets().get(toHex(accountKey(this.identity()).publicKey)) ?? reject('no-key', 'the current account key is not sealed to this device');
  }

  /**
   * The secret of an epoch: sealed to this account directly, granted later, or unlocked from a newer epoch. Walks
   * towards newer epochs until one opens, then back down the chain, so a long chain of rotations costs one pass.
   */
  epochSecret(graph: SpaceGraph, epoch: string): Uint8Array {
    const cached = this.epochSecrets.get(epoch);
    if (cached) return cached;
    const me = this.account;
    const tryOpen = (s: { account: Uint8Array; to: Uint8Array; box: Uint8Array }) => {
      const acct = equal(s.account, me) ? this.secrets().get(toHex(s.to)) : undefined;
      return acct ? openSealed(boxKeyFromSecret(acct), s.box, EPOCH_SEAL) : undefined;
    };
    const direct = (e: string): Uint8Array | undefined => {
      let secret = this.epochSecrets.get(e);
      for (const s of graph.nodes.get(e)?.op.epoch?.seals ?? []) secret ??= tryOpen(s);
      for (const g of graph.grantsOf(e)) secret ??= tryOpen(g);
      return secret;
    };
    // Each epoch reached, with the older one it unlocks and the box that does it.
    const unlocks = new Map<string, { older: string; box: Uint8Array } | null>([[epoch, null]]);
    for (const e of unlocks.keys()) {
      let secret = direct(e);
      if (secret) {
        for (let at = e, step = unlocks.get(at); step; at = step.older, step = unlocks.get(at)) {
          this.epochSecrets.set(at, secret);
          secret = openChained(secret, step.box);
        }
        this.epochSecrets.set(epoch, secret);
        return secret;
      }
      for (const c of graph.carriersOf(e)) if (!unlocks.has(c.epoch)) unlocks.set(c.epoch, { older: e, box: c.box });
    }
    return reject('no-key', 'this account holds no key for that epoch of the space');
  }

  private contentKeyOf(graph: SpaceGraph, epoch: string): Uint8Array {
    let key = this.contentKeys.get(epoch);
    if (!key) this.contentKeys.set(epoch, (key = contentKey(this.epochSecret(graph, epoch))));
    return key;
  }

  private checkReadable(e: Entry, basis: OpNode, graph: SpaceGraph): void {
    let plaintext: Uint8Array;
    try {
      plaintext = this.openPayload(e, basis, graph);
    } catch (err) {
      // Not readable here (a provider, or a device still being recovered): signatures and roles were checked.
      if (err instanceof FreeholdError && (err.reason === 'no-key' || err.reason === 'not-found')) return;
      throw err;
    }
    checkContent(e.kind, plaintext, e.device);
  }

  private openPayload(e: Entry, basis: OpNode, graph: SpaceGraph): Uint8Array {
    if (graph.isPublic || e.kind === Kind.prune) return e.payload;
    if (e.kind === Kind.append) return openSealed(epochBoxKey(this.epochSecret(graph, basis.epoch!)), e.payload, APPEND_SEAL, e.header);
    return open(this.contentKeyOf(graph, basis.epoch!), e.payload, e.header);
  }

  async decrypt(e: Entry): Promise<Uint8Array> {
    const graph = await this.replica.graph(e.space);
    const basis = graph.nodes.get(toHex(e.basis)) ?? reject('missing-dependency', 'entry refers to an unknown membership operation');
    return this.openPayload(e, basis, graph);
  }

  async canRead(space: Uint8Array): Promise<boolean> {
    const graph = await this.replica.graph(space);
    return graph.isPublic || canRead(graph.current().roles.get(toHex(this.account)));
  }

  async canWrite(space: Uint8Array): Promise<boolean> {
    return canWrite((await this.replica.graph(space)).current().roles.get(toHex(this.account)));
  }

  /** A document's id within its space: keyed, so the provider sees only opaque ids. */
  async docId(space: Uint8Array, name: string): Promise<Uint8Array> {
    const graph = await this.replica.graph(space);
    if (!graph.created) reject('not-found', 'this space is not in the replica');
    if (graph.isPublic) return publicDocId(space, name);
    return privateDocId(namesKey(this.epochSecret(graph, graph.root!.id)), name);
  }

  private async nextSeq(): Promise<{ seq: number; prev: Uint8Array }> {
    const raw = await this.store.getMeta(seqKey(this.id));
    let seq = 0;
    let prev: Uint8Array = new Uint8Array(0);
    if (raw) {
      const [s, p] = asArray(decode(raw, 'sequence state'), 'sequence state', 2);
      seq = asUint(s, 'seq');
      prev = asBytes(p, 'prev');
    }
    // The counter is saved after the entry; if that save was lost, the store still knows what was signed.
    for (;;) {
      const id = await this.store.idBySeq(this.id, seq + 1);
      if (!id) break;
      seq += 1;
      prev = id;
    }
    return { seq: seq + 1, prev };
  }

  private async sign(h: Omit<Parameters<typeof createEntry>[0], 'device' | 'seq' | 'prev' | 'time'>, size: number, make: (header: Uint8Array) => Uint8Array): Promise<Entry> {
    const { seq, prev } = await this.nextSeq();
    const entry = createEntry({ ...h, device: this.id, seq, prev, time: this.replica.now() }, this.keys.sign, size, make);
    await this.replica.ingestOwn(entry);
    await this.store.setMeta(seqKey(this.id), encode([seq, entry.id]));
    return entry;
  }

  private async writeOp(space: Uint8Array, op: MembershipOp): Promise<Entry> {
    const payload = encode(definedOnly(op));
    return this.sign({ kind: Kind.membership, space, doc: new Uint8Array(0), basis: new Uint8Array(0) }, payload.length, () => payload);
  }

  /** Writes a content entry under the latest membership op, encrypted to the current epoch unless public (or a prune). */
  async write(space: Uint8Array, kind: Kind, doc: Uint8Array, plaintext: Uint8Array): Promise<Entry> {
    const graph = await this.replica.graph(space);
    if (!graph.created) reject('not-found', 'this space is not in the replica');
    const basis = graph.latest!;
    const role = graph.roleAfter(basis, toHex(this.account));
    if (kind !== Kind.append && !canWrite(role)) {
      reject(role ? 'forbidden-role' : 'not-member', role ? `a ${role} may not write in this space` : 'this account is not a member of this space');
    }
    const h = { kind, space, doc, basis: basis.entryId };
    // A prune is applied by providers, which hold no key (see prune.ts).
    if (graph.isPublic || kind === Kind.prune) return this.sign(h, plaintext.length, () => plaintext);
    if (kind === Kind.append) {
      // Appenders (inbox senders) cannot read the space: they seal to the epoch's public box key instead.
      const boxPub = graph.nodes.get(basis.epoch!)!.op.epoch!.publicKey;
      return this.sign(h, plaintext.length + SEAL_OVERHEAD, (header) => sealTo(boxPub, plaintext, APPEND_SEAL, header));
    }
    const key = this.contentKeyOf(graph, basis.epoch!);
    return this.sign(h, plaintext.length + NONCE + TAG, (header) => seal(key, plaintext, header));
  }

  private recipient(account: Uint8Array): Recipient {
    const c = this.replica.contact(account) ?? reject('not-found', `no contact card for account ${toHex(account).slice(0, 12)}: add it first`);
    return { account, accountKey: accountKey(c).publicKey };
  }

  private readersAfter(graph: SpaceGraph, change?: { account: Uint8Array; role: Role | undefined }): Recipient[] {
    const roles = new Map(graph.current().roles);
    if (change) {
      if (change.role) roles.set(toHex(change.account), change.role);
      else roles.delete(toHex(change.account));
    }
    return [...roles].filter(([, r]) => canRead(r)).map(([a]) => this.recipient(fromHex(a)));
  }

  private rotation(graph: SpaceGraph, readers: Recipient[]): MembershipOp['epoch'] {
    const cur = graph.current().epoch!;
    return newEpoch(readers, [{ epoch: fromHex(cur), secret: this.epochSecret(graph, cur) }]).key;
  }

  private async cuts(account: Uint8Array): Promise<[Uint8Array, number][]> {
    const c = this.replica.contact(account);
    const out: [Uint8Array, number][] = [];
    for (const d of c?.devices.values() ?? []) out.push([d.device, await this.store.maxSeq(d.device)]);
    return out;
  }

  /**
   * A new space; an inbox lets any account append (sealed to the space's readers) without being added. A fixed
   * nonce makes the id predictable from the account id (an app's well-known spaces), and creatable only once.
   */
  async createSpace(isPublic: boolean, opts: { inbox?: boolean; nonce?: Uint8Array } = {}): Promise<Uint8Array> {
    const nonce = opts.nonce ?? randomBytes(16);
    if (nonce.length !== 16) reject('invalid-argument', 'a space nonce is 16 bytes');
    const space = spaceIdOf(this.account, nonce, isPublic);
    const op: MembershipOp = { t: 'create', deps: [], creator: this.account, nonce, public: isPublic };
    if (opts.inbox) op.inbox = true;
    if (!isPublic) op.epoch = newEpoch([this.recipient(this.account)], []).key;
    await this.writeOp(space, op);
    return space;
  }

  private async adminGraph(space: Uint8Array): Promise<SpaceGraph> {
    const graph = await this.replica.graph(space);
    if (!graph.created) reject('not-found', 'this space is not in the replica');
    if (graph.current().roles.get(toHex(this.account)) !== 'admin') reject('forbidden-role', 'only an admin of the space may change its members');
    return graph;
  }

  /** Adds a member or changes a role. Gaining read access grants the current epoch key; losing it rotates. */
  async setRole(space: Uint8Array, account: Uint8Array, role: Role): Promise<Entry> {
    const graph = await this.adminGraph(space);
    const before = graph.current().roles.get(toHex(account));
    const op: MembershipOp = { t: 'set-role', deps: graph.heads().map(fromHex), account, role };
    if (canWrite(before) && !canWrite(role)) op.cuts = await this.cuts(account);
    if (!graph.isPublic) {
      if (canRead(before) && !canRead(role)) {
        op.epoch = this.rotation(graph, this.readersAfter(graph, { account, role }));
      } else if (canRead(role) && !canRead(before)) {
        const epoch = graph.current().epoch!;
        op.grants = [{ epoch: fromHex(epoch), ...sealEpoch(this.epochSecret(graph, epoch), this.recipient(account)) }];
      }
    }
    return this.writeOp(space, op);
  }

  /** Removes a member: their later writes are cut off and, in a private space, the epoch key rotates. */
  async remove(space: Uint8Array, account: Uint8Array): Promise<Entry> {
    const graph = await this.adminGraph(space);
    if (!graph.current().roles.has(toHex(account))) reject('not-member', 'that account is not a member of this space');
    const op: MembershipOp = { t: 'remove', deps: graph.heads().map(fromHex), account, cuts: await this.cuts(account) };
    if (!graph.isPublic) op.epoch = this.rotation(graph, this.readersAfter(graph, { account, role: undefined }));
    return this.writeOp(space, op);
  }

  /** A fresh epoch sealed to every reader's current account key (after a member revoked a device). */
  async rotate(space: Uint8Array): Promise<Entry> {
    const graph = await this.adminGraph(space);
    if (graph.isPublic) reject('invalid-argument', 'a public space has no keys to rotate');
    return this.writeOp(space, { t: 'rotate', deps: graph.heads().map(fromHex), epoch: this.rotation(graph, this.readersAfter(graph)) });
  }

  /**
   * Private spaces this account administers whose current epoch is sealed to an account key that has since been
   * rotated (a device was revoked): rotating them keeps the revoked device out of everything written later.
   */
  async rotateStale(): Promise<Uint8Array[]> {
    const rotated: Uint8Array[] = [];
    for (const space of await this.store.spaces()) {
      const graph = await this.replica.graph(space);
      if (graph.isPublic || !graph.created) continue;
      const cur = graph.current();
      if (cur.roles.get(toHex(this.account)) !== 'admin') continue;
      const seals = graph.nodes.get(cur.epoch!)?.op.epoch?.seals ?? [];
      const stale = this.readersAfter(graph).some((r) => !seals.some((s) => equal(s.account, r.account) && equal(s.to, r.accountKey)));
      if (stale) {
        await this.rotate(space);
        rotated.push(space);
      }
    }
    return rotated;
  }

  /** Adds a device that proved it holds its key for this account (see possessionProof). */
  async addDevice(device: NewDevice): Promise<void> {
    const me = this.identity();
    addDevice(me, this.keys.sign, this.currentAccountSecret(), device, this.replica.now());
    await this.replica.commitIdentity(me);
  }

  async revokeDevice(device: Uint8Array): Promise<Uint8Array[]> {
    const me = this.identity();
    if (equal(device, this.id)) reject('invalid-argument', 'a device cannot revoke itself; revoke it from another device');
    if (!liveDevices(me).some((d) => equal(d.device, device))) reject('not-found', 'no live device of this account has that id');
    revokeDevice(me, this.keys.sign, this.currentAccountSecret(), device, await this.store.maxSeq(device), this.replica.now());
    await this.replica.commitIdentity(me);
    return this.rotateStale();
  }

  /** Renames a live device of this account (this one or another); the name is trimmed and may not be empty. */
  async renameDevice(device: Uint8Array, name: string): Promise<void> {
    const me = this.identity();
    const trimmed = name.trim();
    if (!trimmed || trimmed.length > MAX_DEVICE_NAME) reject('invalid-argument', `a device name is 1 to ${MAX_DEVICE_NAME} characters`);
    if (!liveDevices(me).some((d) => equal(d.device, device))) reject('not-found', 'no live device of this account has that id');
    nameDevice(me, this.keys.sign, device, trimmed, this.replica.now());
    await this.replica.commitIdentity(me);
  }

  async setProviders(providers: string[]): Promise<void> {
    const me = this.identity();
    setProviders(me, this.keys.sign, providers, this.replica.now());
    await this.replica.commitIdentity(me);
  }

  async setHandles(handles: string[]): Promise<void> {
    const me = this.identity();
    setHandles(me, this.keys.sign, handles, this.replica.now());
    await this.replica.commitIdentity(me);
  }

  async rotateRecovery(): Promise<Uint8Array> {
    const me = this.identity();
    const { recoverySecret } = rotateRecovery(me, this.keys.sign, this.currentAccountSecret(), this.replica.now());
    await this.replica.commitIdentity(me);
    return recoverySecret;
  }
}

