import { describe, expect, it } from 'vitest';
import { ed25519, x25519 } from '@noble/curves/ed25519.js';
import { xchacha20poly1305 } from '@noble/ciphers/chacha.js';
import { fromHex, toHex, pureBackend, isFreeholdError, type CryptoBackend } from '@freehold/core';
import { secretToPhrase, phraseToSecret } from '@freehold/core/words';
import { nodeBackend } from '@freehold/node';

// RFC 8032 section 7.1, tests 1-3.
const RFC8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
];

const backends: [string, CryptoBackend][] = [
  ['pure (noble)', pureBackend],
  ['native (node:crypto)', nodeBackend],
];

describe.each(backends)('Ed25519 RFC 8032 vectors, %s backend', (_name, backend) => {
  it.each(RFC8032)('signs and verifies vector $public', (v) => {
    expect(toHex(ed25519.getPublicKey(fromHex(v.secret)))).toBe(v.public);
    const sig = backend.sign(fromHex(v.message), fromHex(v.secret));
    expect(toHex(sig)).toBe(v.signature);
    expect(backend.verify(sig, fromHex(v.message), fromHex(v.public))).toBe(true);
  });

  it('rejects a flipped bit in message, signature or key', () => {
    const v = RFC8032[2]!;
    const msg = fromHex(v.message);
    const sig = fromHex(v.signature);
    const pub = fromHex(v.public);
    expect(backend.verify(sig, Uint8Array.from([msg[0]! ^ 1, msg[1]!]), pub)).toBe(false);
    const badSig = sig.slice();
    badSig[10]! ^= 4;
    expect(backend.verify(badSig, msg, pub)).toBe(false);
    const badPub = pub.slice();
    badPub[3]! ^= 1;
    expect(backend.verify(sig, msg, badPub)).toBe(false);
  });

  it('rejects a malleated signature (S + L) and a small-order public key', () => {
    const v = RFC8032[0]!;
    const sig = fromHex(v.signature);
    const L = fromHex('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010');
    const s = sig.slice();
    let carry = 0;
    for (let i = 0; i < 32; i++) {
      const sum = s[32 + i]! + L[i]! + carry;
      s[32 + i] = sum & 255;
      carry = sum >> 8;
    }
    expect(backend.verify(s, new Uint8Array(0), fromHex(v.public))).toBe(false);
    // The identity point: every "signature" with R = identity, S = 0 would verify under a lax verifier.
    const identity = fromHex('0100000000000000000000000000000000000000000000000000000000000000');
    const forged = new Uint8Array(64);
    forged.set(identity, 0);
    expect(backend.verify(forged, new Uint8Array([1, 2, 3]), identity)).toBe(false);
  });
});

describe('X25519 RFC 7748 vectors', () => {
  it('computes the section 5.2 scalar multiplication', () => {
    const out = x25519.scalarMult(
      fromHex('a546e36bf0527c9d3b16154b82465edd62144c0ac1fc5a18506a2244ba449ac4'),
      fromHex('e6db6867583030db3594c1a424b15f7c726624ec26b3353b10a903a6d0ab1c4c'),
    );
    expect(toHex(out)).toBe('c3da55379de9c6908e94ea4df28d084f32eccf03491c71f754b4075577a28552');
  });

  it('agrees on the section 6.1 shared secret', () => {
    const alice = fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a');
    const bob = fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb');
    expect(toHex(x25519.getPublicKey(alice))).toBe('8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
    expect(toHex(x25519.getPublicKey(bob))).toBe('de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f');
    const shared = '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742';
    expect(toHex(x25519.getSharedSecret(alice, x25519.getPublicKey(bob)))).toBe(shared);
    expect(toHex(x25519.getSharedSecret(bob, x25519.getPublicKey(alice)))).toBe(shared);
  });
});

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03, A.3.1)', () => {
  const plaintext = new TextEncoder().encode(
    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen would be it.",
  );
  const aad = fromHex('50515253c0c1c2c3c4c5c6c7');
  const key = fromHex('808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f');
  const nonce = fromHex('404142434445464748494a4b4c4d4e4f5051525354555657');
  const ciphertext =
    'bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b4522f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff921f9664c97637da9768812f615c68b13b52e';
  const tag = 'c0875924c1c7987947deafd8780acf49';

  it('encrypts to the published ciphertext and tag', () => {
    expect(toHex(xchacha20poly1305(key, nonce, aad).encrypt(plaintext))).toBe(ciphertext + tag);
  });

  it('refuses a tampered ciphertext or AAD', () => {
    const sealed = fromHex(ciphertext + tag);
    sealed[5]! ^= 1;
    expect(() => xchacha20poly1305(key, nonce, aad).decrypt(sealed)).toThrow();
    expect(() => xchacha20poly1305(key, nonce, fromHex('50515253c0c1c2c3c4c5c6c8')).decrypt(fromHex(ciphertext + tag))).toThrow();
  });
});

describe('BIP39 recovery phrases', () => {
  // Vectors from the BIP39 reference test set (english, 256-bit entropy).
  const vectors = [
    ['0000000000000000000000000000000000000000000000000000000000000000', 'abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon abandon art'],
    ['7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f7f', 'legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth useful legal winner thank year wave sausage worth title'],
    ['8080808080808080808080808080808080808080808080808080808080808080', 'letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic avoid letter advice cage absurd amount doctor acoustic bless'],
    ['ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff', 'zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo zoo vote'],
  ] as const;

  it.each(vectors)('maps %s to its 24 words and back', (entropy, phrase) => {
    expect(secretToPhrase(fromHex(entropy))).toBe(phrase);
    expect(toHex(phraseToSecret(phrase))).toBe(entropy);
  });

  it('accepts extra spaces and capitals but rejects a wrong checksum or word count', () => {
    expect(toHex(phraseToSecret(`  ${vectors[3][1].toUpperCase()}  `))).toBe(vectors[3][0]);
    const wrongChecksum = vectors[3][1].replace(/vote$/, 'zoo');
    expect(() => phraseToSecret(wrongChecksum)).toThrow(/not valid/);
    try {
      phraseToSecret('abandon abandon art');
    } catch (e) {
      expect(isFreeholdError(e, 'bad-phrase')).toBe(true);
    }
    expect(() => phraseToSecret('abandon abandon art')).toThrow(/24 words/);
  });
});
