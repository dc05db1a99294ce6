import * as Y from 'yjs';
import { asArray, asBytes, asString, decode, encode } from './codec.js';
import { reject } from './errors.js';
import { sha256 } from './crypto/suite.js';
import { Kind } from './entry.js';
import { decodeBlobChunk } from './blob-payload.js';

/** A device's Yjs client id is derived from its signing key, so every replica can check who wrote which ops. */
export function clientIdOf(device: Uint8Array): number {
  const h = sha256(device);
  return (((h[0]! << 24) | (h[1]! << 16) | (h[2]! << 8) | h[3]!) >>> 1) || 1;
}

export interface UpdatePayload {
  name: string;
  update: Uint8Array;
}
export interface SnapshotPayload {
  name: string;
  state: Uint8Array;
  /** Ids of the update entries this snapshot already contains. */
  covers: Uint8Array[];
}

export const encodeUpdate = (p: UpdatePayload): Uint8Array => encode([p.name, p.update]);
export const encodeSnapshot = (p: SnapshotPayload): Uint8Array => encode([p.name, p.state, p.covers]);

export function decodeUpdate(b: Uint8Array): UpdatePayload {
  const [name, update] = asArray(decode(b, 'update payload'), 'update payload', 2);
  return { name: asString(name, 'update.name'), update: asBytes(update, 'update.update') };
}

export function decodeSnapshot(b: Uint8Array): SnapshotPayload {
  const [name, state, covers] = asArray(decode(b, 'snapshot payload'), 'snapshot payload', 3);
  return {
    name: asString(name, 'snapshot.name'),
    state: asBytes(state, 'snapshot.state'),
    covers: asArray(covers, 'snapshot.covers', 1_000_000).map((c, i) => asBytes(c, `snapshot.covers[${i}]`, 32)),
  };
}

/**
 * Checked by every replica that can read the entry: an update may only carry ops of its author's client id
 * (deleting others' items is fine, that is a delete set, not ops). Snapshots merge everyone's ops by design and
 * are trusted as far as their writer is. Snapshots and blob chunks must have their shape.
 */
export function checkContent(kind: number, plaintext: Uint8Array, device: Uint8Array): void {
  if (kind !== Kind.update) {
    if (kind === Kind.snapshot) decodeSnapshot(plaintext);
    if (kind === Kind.blob) decodeBlobChunk(plaintext);
    return;
  }
  const { update } = decodeUpdate(plaintext);
  let meta: { from: Map<number, number> };
  try {
    meta = Y.parseUpdateMeta(update);
  } catch {
    return reject('malformed', 'document update is not a valid Yjs update');
  }
  const own = clientIdOf(device);
  for (const client of meta.from.keys()) {
    if (client !== own) reject('foreign-client-id', `update carries ops of client ${client}, but its author is client ${own}`);
  }
}
