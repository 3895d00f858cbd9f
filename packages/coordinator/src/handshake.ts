import { printable, proofMatches, ProtocolError, type Hello } from '@adamant/core';

/** How a session is named in logs and errors once it said hello: "host:pid (address:port)", printable and bounded. */
export function sessionName(hello: Hello, address: string): string {
  return `${printable(hello.name, 100)} (${address})`;
}

/**
 * Checks a worker's proof of the token against the challenge this connection was sent (E_AUTH).
 * Without a token, any proof passes. The protocol version was checked when the frame was decoded
 * (E_VERSION). Throws a ProtocolError naming `peer`.
 */
export function checkProof(hello: Hello, nonce: Uint8Array, token: string | undefined, peer: string): void {
  if (token !== undefined && !proofMatches(token, nonce, hello.proof)) {
    throw new ProtocolError(`worker ${peer} presented ${hello.proof === undefined ? 'no token' : 'a wrong token'}`, 'E_AUTH');
  }
}

/** Checks that a worker rejoining a job (its hello names one) rejoins this one (E_JOB). */
export function checkJob(hello: Hello, jobId: string, peer: string): void {
  if (hello.jobId !== undefined && hello.jobId !== jobId) {
    throw new ProtocolError(`worker ${peer} served job ${printable(hello.jobId, 64)}, this coordinator runs job ${jobId}`, 'E_JOB');
  }
}
