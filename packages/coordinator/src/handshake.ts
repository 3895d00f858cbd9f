import { printable, proofMatches, ProtocolError, type Hello, type WorkerMessage } from '@adamant/core';

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

/**
 * A worker's backend identity from its ready message: its tfjs backend and, on the fused path, its
 * GEMM engine with the engine's build ("wasm+openblas 0.3.21 Haswell"). Workers agree to the bit
 * only when their identities are equal: the summary, the dashboard and --verify's pairing use it.
 */
export function backendIdentity(ready: Extract<WorkerMessage, { type: 'ready' }>): string {
  if (!ready.gemm) return ready.backend;
  const build = ready.gemmBuild ? ` ${printable(ready.gemmBuild, 64)}` : '';
  return `${ready.backend}+${ready.gemm}${build}`;
}
