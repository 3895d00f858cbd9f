import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Proof of the shared token without sending it: the coordinator opens every connection with a
 * fresh random nonce (`challenge`), and the worker answers with HMAC-SHA256(token, nonce) in its
 * `hello`. A capture of the handshake shows the nonce and the proof, never the token, and a proof
 * is worth nothing on another connection, whose nonce differs.
 */

/** Bytes of a challenge's nonce. */
export const NONCE_BYTES = 32;

/** Bytes of a proof: one SHA-256 digest. */
export const PROOF_BYTES = 32;

/** A fresh nonce for one connection's challenge. */
export function newNonce(): Uint8Array<ArrayBuffer> {
  return new Uint8Array(randomBytes(NONCE_BYTES));
}

/** What a worker holding `token` answers to a challenge of `nonce`: HMAC-SHA256 keyed by the token (UTF-8). */
export function authProof(token: string, nonce: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(createHmac('sha256', token).update(nonce).digest());
}

/**
 * Whether `proof` answers `nonce` for `token`. Compared in constant time, so the time taken says
 * nothing about how many leading bytes were right; a proof of another length is wrong at once
 * (timingSafeEqual throws on unequal lengths, and the length is no secret).
 */
export function proofMatches(token: string, nonce: Uint8Array, proof: Uint8Array | undefined): boolean {
  if (proof === undefined || proof.byteLength !== PROOF_BYTES) return false;
  return timingSafeEqual(authProof(token, nonce), proof);
}
