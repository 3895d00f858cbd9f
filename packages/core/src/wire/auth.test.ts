import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { authProof, NONCE_BYTES, newNonce, PROOF_BYTES, proofMatches } from './auth.js';

describe('the challenge-response proof', () => {
  const nonce = Uint8Array.from({ length: NONCE_BYTES }, (_, i) => i);

  it('is HMAC-SHA256 of the nonce keyed by the token', () => {
    const expected = createHmac('sha256', Buffer.from('s3cret', 'utf8')).update(nonce).digest();
    expect(Buffer.from(authProof('s3cret', nonce)).equals(expected)).toBe(true);
    expect(authProof('s3cret', nonce)).toHaveLength(PROOF_BYTES);
  });

  it('matches only the same token and the same nonce', () => {
    const proof = authProof('s3cret', nonce);
    expect(proofMatches('s3cret', nonce, proof)).toBe(true);
    expect(proofMatches('s3cret!', nonce, proof)).toBe(false);
    const other = Uint8Array.from(nonce);
    other[0] = 255;
    expect(proofMatches('s3cret', other, proof)).toBe(false);
  });

  it('refuses a missing proof, or one of another length, without throwing', () => {
    const proof = authProof('s3cret', nonce);
    expect(proofMatches('s3cret', nonce, undefined)).toBe(false);
    expect(proofMatches('s3cret', nonce, proof.subarray(0, 31))).toBe(false);
    expect(proofMatches('s3cret', nonce, new Uint8Array(0))).toBe(false);
    expect(proofMatches('s3cret', nonce, new Uint8Array(64))).toBe(false);
  });

  it('draws a fresh nonce each time', () => {
    const a = newNonce();
    expect(a).toHaveLength(NONCE_BYTES);
    expect(Buffer.from(a).equals(Buffer.from(newNonce()))).toBe(false);
  });
});
