import { asArray, asBytes, asRecord, asString, asUint, decode } from '../codec.js';
import { reject } from '../errors.js';
import { signedId } from '../signed.js';

export type Role = 'admin' | 'writer' | 'reader' | 'appender';
export const ROLES: readonly Role[] = ['admin', 'writer', 'reader', 'appender'];
export const canRead = (r: Role | undefined): boolean => r === 'admin' || r === 'writer' || r === 'reader';
export const canWrite = (r: Role | undefined): boolean => r === 'admin' || r === 'writer';
export const canAppend = (r: Role | undefined): boolean => r === 'admin' || r === 'writer' || r === 'appender';

export interface Seal {
  account: Uint8Array;
  /** The account key (public) the epoch secret is sealed to. */
  to: Uint8Array;
  box: Uint8Array;
}

/** A new epoch key: its box public key (for appenders) and its secret sealed to every reading member. */
export interface EpochKey {
  publicKey: Uint8Array;
  seals: Seal[];
  /** Earlier epoch secrets encrypted under this one: members joining later can read the history. */
  prev: { epoch: Uint8Array; box: Uint8Array }[];
}

export interface MembershipOp {
  /** The membership heads the author had seen: membership forms a DAG and validity is judged on the causal past. */
  deps: Uint8Array[];
  t: 'create' | 'set-role' | 'remove' | 'rotate';
  /** create */
  creator?: Uint8Array;
  nonce?: Uint8Array;
  public?: boolean;
  /** Any account may append (inboxes: follow requests, messages); members' roles still apply. */
  inbox?: boolean;
  /** set-role / remove */
  account?: Uint8Array;
  role?: Role;
  /** Highest sequence number accepted from each device of the demoted account. */
  cuts?: [Uint8Array, number][];
  epoch?: EpochKey;
  /** Existing epoch secrets sealed to a newly added member. */
  grants?: (Seal & { epoch: Uint8Array })[];
}

export const spaceIdOf = (creator: Uint8Array, nonce: Uint8Array, isPublic: boolean): Uint8Array =>
  signedId('space', creator, nonce, new Uint8Array([isPublic ? 1 : 0]));

function readSeal(v: unknown, f: string): Seal {
  const r = asRecord(v, f);
  return { account: asBytes(r.account, `${f}.account`, 32), to: asBytes(r.to, `${f}.to`, 32), box: asBytes(r.box, `${f}.box`) };
}

export function readMembershipOp(payload: Uint8Array): MembershipOp {
  // Decoded byte strings are views into what they were decoded from, and ops are kept for as long as their
  // space's graph is: a copy keeps them from holding on to the whole frame or page the entry came in.
  const r = asRecord(decode(payload.slice(), 'membership op'), 'membership op');
  const t = asString(r.t, 'op.t');
  if (t !== 'create' && t !== 'set-role' && t !== 'remove' && t !== 'rotate') return reject('malformed', `unknown membership operation "${t}"`);
  const op: MembershipOp = { t, deps: asArray(r.deps, 'op.deps', 64).map((d, i) => asBytes(d, `op.deps[${i}]`, 32)) };
  if (t === 'create') {
    if (op.deps.length) reject('malformed', 'create has no dependencies');
    op.creator = asBytes(r.creator, 'op.creator', 32);
    op.nonce = asBytes(r.nonce, 'op.nonce', 16);
    if (typeof r.public !== 'boolean') reject('malformed', 'op.public: expected a boolean');
    op.public = r.public;
    if (r.inbox !== undefined) {
      if (r.inbox !== true) reject('malformed', 'op.inbox: expected true when present');
      op.inbox = true;
    }
  } else if (!op.deps.length) reject('malformed', `${t} needs dependencies`);
  if (t === 'set-role' || t === 'remove') op.account = asBytes(r.account, 'op.account', 32);
  if (t === 'set-role') {
    const role = asString(r.role, 'op.role');
    if (!ROLES.includes(role as Role)) reject('malformed', `unknown role "${role}"`);
    op.role = role as Role;
  }
  if (r.cuts !== undefined) {
    op.cuts = asArray(r.cuts, 'op.cuts', 1000).map((c, i) => {
      const [d, s] = asArray(c, `op.cuts[${i}]`, 2);
      return [asBytes(d, `op.cuts[${i}].device`, 32), asUint(s, `op.cuts[${i}].seq`)];
    });
  }
  if (r.epoch !== undefined) {
    const e = asRecord(r.epoch, 'op.epoch');
    op.epoch = {
      publicKey: asBytes(e.publicKey, 'op.epoch.publicKey', 32),
      seals: asArray(e.seals, 'op.epoch.seals', 10_000).map((s, i) => readSeal(s, `op.epoch.seals[${i}]`)),
      prev: asArray(e.prev, 'op.epoch.prev', 64).map((p, i) => {
        const pr = asRecord(p, `op.epoch.prev[${i}]`);
        return { epoch: asBytes(pr.epoch, `op.epoch.prev[${i}].epoch`, 32), box: asBytes(pr.box, `op.epoch.prev[${i}].box`) };
      }),
    };
  }
  if (r.grants !== undefined) {
    op.grants = asArray(r.grants, 'op.grants', 1000).map((g, i) => ({
      ...readSeal(g, `op.grants[${i}]`),
      epoch: asBytes(asRecord(g, `op.grants[${i}]`).epoch, `op.grants[${i}].epoch`, 32),
    }));
  }
  return op;
}
