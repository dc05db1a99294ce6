import { compare, equal, toHex, toId } from '../bytes.js';
import { asArray, asBytes, decode, encode } from '../codec.js';
import { reject } from '../errors.js';
import { verify } from '../crypto/suite.js';
import { readRecord, signedId, type Signed } from '../signed.js';
import { readIdentityBody, type AccountKeyGrant, type IdentityBody } from './records.js';

export const IDENTITY_DOMAIN = 'identity';

export interface DeviceInfo {
  device: Uint8Array;
  box: Uint8Array;
  name: string;
  addedAt: number;
  /** The time written in the record that added it: the order in which competing claims on a key are judged. */
  addedTime: number;
  /** Set once revoked: entries this device signed with a sequence number above `cut` are rejected. */
  revoked?: { cut: number; at: number };
}

/** An account as verified from its genesis record: what every replica knows about another account. */
export interface IdentityState {
  account: Uint8Array;
  recoverySign: Uint8Array;
  recoveryBox: Uint8Array;
  devices: Map<string, DeviceInfo>;
  keys: AccountKeyGrant[];
  providers: string[];
  handles: string[];
  records: { signed: Signed; body: IdentityBody }[];
  /** The newest record's id. */
  readonly head: Uint8Array;
}

export const accountKey = (s: IdentityState): AccountKeyGrant => s.keys[s.keys.length - 1]!;

export function liveDevices(s: IdentityState): DeviceInfo[] {
  return [...s.devices.values()].filter((d) => !d.revoked);
}

export function deviceOf(s: IdentityState, device: Uint8Array): DeviceInfo | undefined {
  return s.devices.get(toHex(device));
}

export function claimMessage(account: Uint8Array, device: Uint8Array, box: Uint8Array): Uint8Array {
  return signedId('recovery-claim', account, device, box);
}

/** What a device signs to agree to join an account: possession of its key, bound to that one account. */
export function possessionMessage(account: Uint8Array, device: Uint8Array, box: Uint8Array): Uint8Array {
  return signedId('device-possession', account, device, box);
}

function checkGrant(state: IdentityState, grant: AccountKeyGrant, rotating: boolean): void {
  const expected = rotating ? state.keys.length + 1 : state.keys.length;
  if (grant.version !== expected) reject('bad-chain', `account key version ${grant.version}, expected ${expected}`);
  if (!rotating && !equal(grant.publicKey, accountKey(state).publicKey)) {
    reject('bad-chain', 'account key does not match the current one');
  }
  if (rotating && state.keys.length > 0 && !grant.prev) reject('malformed', 'a rotated account key must chain to the previous one');
}

/**
 * Applies one verified record to the state, or throws a typed reason why the record is not allowed. `trusted`
 * skips the signatures carried inside the record, as readRecord skips the record's own.
 */
function apply(state: IdentityState, signed: Signed, body: IdentityBody, trusted: boolean): void {
  const { op } = body;
  const bySigner = deviceOf(state, signed.signer);
  const signerIsRecovery = equal(signed.signer, state.recoverySign);
  const signerIsLiveDevice = bySigner !== undefined && !bySigner.revoked;
  switch (op.t) {
    case 'genesis':
      return reject('bad-chain', 'genesis may only be the first record');
    case 'add-device': {
      if (state.devices.has(toHex(op.device))) reject('bad-chain', `device ${toId(op.device)} was already added once`);
      const selfSigned = equal(signed.signer, op.device);
      const possessed =
        selfSigned || (op.proof !== undefined && (trusted || verify(op.proof, possessionMessage(state.account, op.device, op.box), op.device)));
      if (!possessed) reject('bad-signature', `add-device needs device ${toId(op.device)}'s own signature: only its holder can add it`);
      const claimed =
        op.claim !== undefined &&
        selfSigned &&
        (trusted || verify(op.claim, claimMessage(state.account, op.device, op.box), state.recoverySign));
      if (!signerIsRecovery && !signerIsLiveDevice && !claimed) {
        reject('unknown-author', 'add-device must be signed by a live device or carry a recovery claim');
      }
      checkGrant(state, op.key, state.keys.length === 0);
      if (state.keys.length === 0) state.keys.push({ ...op.key, seals: [...op.key.seals] });
      else accountKey(state).seals.push(...op.key.seals);
      state.devices.set(toHex(op.device), { device: op.device, box: op.box, name: op.name, addedAt: body.seq, addedTime: body.time });
      return;
    }
    case 'revoke-device': {
      if (!signerIsRecovery && !signerIsLiveDevice) reject('unknown-author', 'revoke-device needs a live device or the recovery key');
      const target = deviceOf(state, op.device);
      if (!target || target.revoked) reject('bad-chain', `device ${toId(op.device)} is not a live device of this account`);
      checkGrant(state, op.key, true);
      state.keys.push({ ...op.key, seals: [...op.key.seals] });
      target.revoked = { cut: op.cut, at: body.seq };
      return;
    }
    case 'name-device': {
      if (!signerIsLiveDevice) reject('unknown-author', 'name-device must be signed by a live device of the account');
      const target = deviceOf(state, op.device);
      if (!target || target.revoked) reject('bad-chain', `device ${toId(op.device)} is not a live device of this account`);
      if (!op.name.trim()) reject('malformed', 'a device name cannot be empty');
      target.name = op.name;
      return;
    }
    case 'set-providers':
    case 'set-handles': {
      if (!signerIsRecovery && !signerIsLiveDevice) reject('unknown-author', `${op.t} needs a live device or the recovery key`);
      if (op.t === 'set-providers') state.providers = [...op.providers];
      else state.handles = [...op.handles];
      return;
    }
    case 'rotate-recovery': {
      if (!signerIsRecovery && !signerIsLiveDevice) reject('unknown-author', 'rotate-recovery needs a live device or the recovery key');
      checkGrant(state, op.key, false);
      accountKey(state).seals.push(...op.key.seals);
      state.recoverySign = op.recoverySign;
      state.recoveryBox = op.recoveryBox;
      return;
    }
  }
}

export function readIdentityRecord(bytes: Uint8Array, trusted = false): { signed: Signed; body: IdentityBody } {
  const signed = readRecord(IDENTITY_DOMAIN, bytes, 'identity record', trusted);
  return { signed, body: readIdentityBody(signed.body) };
}

/**
 * Verifies a whole identity log from its genesis; any bad record rejects the log with its reason. `storedAs`, the
 * account a log was stored under once this replica verified it, skips the signature and hash-link checks (not
 * the log's rules) and hashing the genesis again: opening a replica reads every log it holds.
 */
export function verifyLog(records: Uint8Array[], storedAs?: Uint8Array): IdentityState {
  if (records.length === 0) reject('malformed', 'an identity log needs at least its genesis record');
  const trusted = storedAs !== undefined;
  const first = readIdentityRecord(records[0]!, trusted);
  const g = first.body.op;
  if (g.t !== 'genesis' || first.body.seq !== 0 || first.body.prev.length !== 0 || first.body.account.length !== 0) {
    reject('bad-chain', 'the first record of an identity log must be a genesis record');
  }
  if (!equal(first.signed.signer, g.recoverySign)) reject('bad-signature', 'genesis must be signed by its recovery key');
  const state: IdentityState = {
    account: storedAs ?? first.signed.id,
    recoverySign: g.recoverySign,
    recoveryBox: g.recoveryBox,
    devices: new Map(),
    keys: [],
    providers: [],
    handles: [],
    records: [first],
    // Derived, so a trusted log's record ids are hashed only when asked for.
    get head() {
      return this.records[this.records.length - 1]!.signed.id;
    },
  };
  for (let i = 1; i < records.length; i++) appendVerified(state, records[i]!, trusted);
  return state;
}

/** Verifies one more record against a state and appends it (mutating the state). */
export function appendVerified(state: IdentityState, bytes: Uint8Array, trusted = false): void {
  const rec = readIdentityRecord(bytes, trusted);
  const { body } = rec;
  if (!equal(body.account, state.account)) reject('bad-chain', 'record belongs to another account');
  if (body.seq !== state.records.length) reject('bad-chain', `record seq ${body.seq}, expected ${state.records.length}`);
  if (body.seq >= MAX_LOG_RECORDS) reject('too-large', `an identity log holds at most ${MAX_LOG_RECORDS} records`);
  // A trusted log's links were checked when it was stored; checking them again would hash every record.
  if (!trusted && !equal(body.prev, state.head)) reject('bad-chain', 'record does not link to the previous record');
  apply(state, rec.signed, body, trusted);
  state.records.push(rec);
}

export const logBytes = (s: IdentityState): Uint8Array[] => s.records.map((r) => r.signed.bytes);

/** A contact card is the account's whole signed identity log, self-certifying from its genesis. */
export const encodeCard = (s: IdentityState): Uint8Array => encode(logBytes(s));

/** Bounds on one identity log: a real account's log stays far below them. */
export const MAX_CARD_BYTES = 256 << 10;
export const MAX_LOG_RECORDS = 2048;

/** A contact card's log, verified (see verifyLog for `storedAs`). */
export function decodeCard(bytes: Uint8Array, storedAs?: Uint8Array): IdentityState {
  if (bytes.length > MAX_CARD_BYTES) reject('too-large', `identity log of ${bytes.length} bytes exceeds ${MAX_CARD_BYTES}`);
  const list = asArray(decode(bytes, 'contact card'), 'contact card', MAX_LOG_RECORDS).map((r, i) => asBytes(r, `card[${i}]`));
  return verifyLog(list, storedAs);
}

/**
 * Two valid logs of one account: keep the longer if one extends the other; at a fork, prefer the branch that
 * revokes the other branch's signer (a revoked device cannot undo its revocation by forking), then a branch
 * signed by the recovery key, then the lower record id. Every replica picks the same log.
 */
export function chooseLog(a: IdentityState, b: IdentityState): IdentityState {
  if (!equal(a.account, b.account)) reject('invalid-argument', 'cannot merge logs of different accounts');
  const n = Math.min(a.records.length, b.records.length);
  let k = 0;
  while (k < n && equal(a.records[k]!.signed.id, b.records[k]!.signed.id)) k++;
  if (k === n) return a.records.length >= b.records.length ? a : b;
  const ra = a.records[k]!;
  const rb = b.records[k]!;
  const revokes = (s: IdentityState, signer: Uint8Array) =>
    s.records.slice(k).some((r) => r.body.op.t === 'revoke-device' && equal(r.body.op.device, signer));
  if (revokes(a, rb.signed.signer)) return a;
  if (revokes(b, ra.signed.signer)) return b;
  const ar = equal(ra.signed.signer, recoveryAt(a, k));
  const br = equal(rb.signed.signer, recoveryAt(b, k));
  if (ar !== br) return ar ? a : b;
  return compare(ra.signed.id, rb.signed.id) <= 0 ? a : b;
}

function recoveryAt(s: IdentityState, k: number): Uint8Array {
  const g = s.records[0]!.body.op;
  let key = g.t === 'genesis' ? g.recoverySign : s.recoverySign;
  for (let i = 1; i < k; i++) {
    const op = s.records[i]!.body.op;
    if (op.t === 'rotate-recovery') key = op.recoverySign;
  }
  return key;
}

