import { utf8 } from '../bytes.js';
import { signedId } from '../signed.js';
import { asArray, asBytes, asString, asUint, decode, encode } from '../codec.js';
import { reject } from '../errors.js';
import { MAX_ENTRY } from '../entry.js';
import { MAX_CARD_BYTES } from '../identity/state.js';

/**
 * Frames are CBOR arrays tagged by their first element; every frame is validated before it is acted on. The
 * same protocol serves peer-to-peer, client-provider and provider-provider sync; the first group is the sync
 * conversation itself, the second what a network session adds around it.
 */
export type Frame =
  /**
   * Account (empty for a provider), the spaces it holds or wants, its own identity log (or none), the protocol
   * version it speaks (absent means 1) and, from a leader that summarises (version 2), the opening message of
   * the summary reconciliation instead of a list of spaces.
   */
  | ['hello', Uint8Array, Uint8Array[], Uint8Array[], number?, Uint8Array?]
  /**
   * The next message of the summary reconciliation (empty once this side has nothing more to say); the spaces
   * the follower holds whose state the leader lacks, which the leader then reconciles; and the digests of the
   * receiver's summary that the sender lacks, which the receiver resolves the same way.
   */
  | ['sum', Uint8Array, Uint8Array[], Uint8Array[]]
  /**
   * Identity logs the peer needs to check what follows: the members of the spaces shown to it, and the authors
   * and named members of the entries about to be sent. Each log is sent once per session, and again once it grows.
   */
  | ['cards', Uint8Array[]]
  | ['rec', Uint8Array, Uint8Array]
  | ['entries', Uint8Array[]]
  | ['want', Uint8Array[]]
  /** Reply to an entries frame, once what was accepted is durable: how many were stored and what was refused. */
  | ['ack', number, [number, string, string][]]
  /** A barrier: the peer answers `synced` after answering everything sent before it. */
  | ['sync', number]
  | ['synced', number]
  | ['challenge', Uint8Array, string]
  /** Signs the challenge with a device key; the card proves the device belongs to the account. */
  | ['auth', Uint8Array, Uint8Array, Uint8Array]
  /** The reply to `auth` (the account) or to `peer` (the answering provider's key). */
  | ['authed', Uint8Array]
  /**
   * A provider authenticating to another: its canonical URL, its key (which its well-known document must name)
   * and its signature over the challenge.
   */
  | ['peer', string, Uint8Array, Uint8Array]
  /**
   * A client asks its provider to mirror spaces of other accounts (the ones it follows or writes to): the
   * spaces, the account that owns each (same order), and those accounts' identity logs, which say where they live.
   */
  | ['mirror', Uint8Array[], Uint8Array[], Uint8Array[]]
  | ['sub', Uint8Array[]]
  | ['subbed', Uint8Array[]]
  | ['error', string, string];

export const PROTOCOL = 'freehold-sync/1';
/** What a device (or a provider, with its key) signs to prove it holds its key in this session with `server`. */
export const challengeMessage = (nonce: Uint8Array, server: string): Uint8Array => signedId('session', nonce, utf8(server));

/**
 * The protocol version this code speaks; a hello naming a newer one is answered with `unsupported-version`.
 * Version 2 adds the summary round (`hello` with a summary, `sum`).
 */
export const PROTOCOL_VERSION = 2;
export const MAX_FRAME = 8 << 20;
/** Bounds on what one frame may ask of its receiver. */
export const FRAME_LIMITS = { entries: 256, ids: 4096, spaces: 16_384, cards: 256, recMessage: 1 << 20 } as const;

export function encodeFrame(f: Frame): Uint8Array {
  return encode(f);
}

function recMessage(v: unknown, field: string): Uint8Array {
  const message = asBytes(v, field);
  if (message.length > FRAME_LIMITS.recMessage) reject('too-large', `${field} of ${message.length} bytes exceeds ${FRAME_LIMITS.recMessage}`);
  return message;
}

/**
 * Whether encoded bytes are an entries frame, read from their first bytes (a CBOR array, then its type as a text
 * string) without decoding the rest: a side tracking what it sends decodes only those.
 */
export function isEntriesFrame(bytes: Uint8Array): boolean {
  return bytes[0] === 0x82 && bytes[1] === 0x67 && new TextDecoder().decode(bytes.subarray(2, 9)) === 'entries';
}

export function decodeFrame(bytes: Uint8Array): Frame {
  if (bytes.length > MAX_FRAME) reject('too-large', `frame of ${bytes.length} bytes exceeds ${MAX_FRAME}`);
  const a = asArray(decode(bytes, 'frame'), 'frame', 6);
  const t = asString(a[0], 'frame type', 16);
  const list = (v: unknown, f: string, max: number, len?: number) => asArray(v, f, max).map((x, i) => asBytes(x, `${f}[${i}]`, len));
  const blobs = (v: unknown, f: string, max: number, maxBytes: number) =>
    list(v, f, max).map((b, i) => (b.length > maxBytes ? reject('too-large', `${f}[${i}]: ${b.length} bytes exceeds ${maxBytes}`) : b));
  const n = (v: unknown, f: string) => asUint(v, f);
  switch (t) {
    case 'ack':
      return [
        'ack',
        n(a[1], 'ack.stored'),
        asArray(a[2], 'ack.rejected', FRAME_LIMITS.entries).map((r, i) => {
          const [idx, reason, message] = asArray(r, `ack.rejected[${i}]`, 3);
          return [n(idx, 'ack.index'), asString(reason, 'ack.reason', 64), asString(message, 'ack.message', 1024)] as [number, string, string];
        }),
      ];
    case 'sync':
    case 'synced':
      return [t, n(a[1], `${t}.n`)];
    case 'challenge':
      return ['challenge', asBytes(a[1], 'challenge.nonce', 32), asString(a[2], 'challenge.server', 256)];
    case 'auth':
      return ['auth', asBytes(a[1], 'auth.card'), asBytes(a[2], 'auth.device', 32), asBytes(a[3], 'auth.signature', 64)];
    case 'authed':
      return ['authed', asBytes(a[1], 'authed.account', 32)];
    case 'peer':
      return ['peer', asString(a[1], 'peer.url', 512), asBytes(a[2], 'peer.key', 32), asBytes(a[3], 'peer.signature', 64)];
    case 'mirror': {
      const spaces = list(a[1], 'mirror.spaces', FRAME_LIMITS.spaces, 32);
      const owners = list(a[2], 'mirror.owners', FRAME_LIMITS.spaces, 32);
      if (owners.length !== spaces.length) reject('malformed', 'mirror: one owner per space');
      return ['mirror', spaces, owners, blobs(a[3], 'mirror.cards', FRAME_LIMITS.cards, MAX_CARD_BYTES)];
    }
    case 'sub':
    case 'subbed':
      return [t, list(a[1], `${t}.spaces`, FRAME_LIMITS.spaces, 32)];
    case 'error':
      return ['error', asString(a[1], 'error.reason', 64), asString(a[2], 'error.message', 1024)];
    case 'hello': {
      const hello: Frame = [
        'hello',
        asBytes(a[1], 'hello.account'),
        list(a[2], 'hello.spaces', FRAME_LIMITS.spaces, 32),
        blobs(a[3], 'hello.cards', 1, MAX_CARD_BYTES),
        a[4] === undefined ? 1 : n(a[4], 'hello.version'),
      ];
      if (a[5] !== undefined) hello.push(recMessage(a[5], 'hello.summary'));
      return hello;
    }
    case 'sum':
      return ['sum', recMessage(a[1], 'sum.message'), list(a[2], 'sum.spaces', FRAME_LIMITS.spaces, 32), list(a[3], 'sum.wanted', FRAME_LIMITS.ids, 32)];
    case 'cards':
      return ['cards', blobs(a[1], 'cards', FRAME_LIMITS.cards, MAX_CARD_BYTES)];
    case 'rec':
      return ['rec', asBytes(a[1], 'rec.space', 32), recMessage(a[2], 'rec.message')];
    case 'entries':
      return ['entries', blobs(a[1], 'entries', FRAME_LIMITS.entries, MAX_ENTRY)];
    case 'want':
      return ['want', list(a[1], 'want', FRAME_LIMITS.ids, 32)];
    default:
      return reject('malformed', `unknown frame type "${t}"`);
  }
}
