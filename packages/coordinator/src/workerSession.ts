import type { WebSocket } from 'ws';
import { closeReason, type AdamantError, type ChunkResult } from '@adamant/core';
import type { FramePool } from './FramePool.js';

/** One worker connection, from its first byte to its close. */
export interface WorkerSession {
  readonly id: number;
  /** "host:pid (address:port)" once it said hello (printable, bounded); its address before. */
  name: string;
  readonly socket: WebSocket;
  state: 'handshake' | 'joining' | 'ready';
  /** Its backend identity once ready: the tfjs backend, and the GEMM engine of a fused path ("wasm+openblas 0.3.21 Haswell"). */
  backend?: string;
  /** When we last heard anything from it (a frame or a pong), for the heartbeat. */
  heardAt: number;
}

/** What the worker server reports to the job: sessions that joined, left or sent a result. */
export interface WorkerServerHandlers {
  /** A worker finished its handshake and built the model: it can take chunks. */
  joined(session: WorkerSession): void;
  /** A session closed (or was dropped); `wasReady` says whether it had joined. */
  left(session: WorkerSession, reason: string, wasReady: boolean): void;
  /** A ready worker sent a chunk result. Throwing E_NUMERIC stops the job (see `fatal`); anything else drops the worker. */
  chunk(session: WorkerSession, message: ChunkResult): void;
  /** An error that must stop the job: E_NUMERIC from `chunk`, or a failure of `left`. */
  fatal(error: AdamantError): void;
}

/** A session and what only the worker server sees of it. */
export interface Connection {
  readonly session: WorkerSession;
  /** The challenge's nonce: the hello must carry HMAC(token, nonce). */
  readonly nonce: Uint8Array<ArrayBuffer>;
  /** The peer's IP address: the key of the failed-handshake log throttle. */
  readonly remoteAddress: string;
  /** "address:port". */
  readonly address: string;
  /** It proved it holds the token: its refusals are logged in full, not throttled. */
  authenticated: boolean;
  /** Rejected or dropped: its later frames are ignored. */
  closed: boolean;
  /** The buffers its outgoing frames are encoded in. */
  readonly frames: FramePool;
  handshakeTimer?: NodeJS.Timeout;
}

/** Closes a WebSocket with a reason cut to what a close frame holds (ws throws on more); never throws. */
export function closeSocket(socket: WebSocket, code: number, reason: string): void {
  try {
    socket.close(code, closeReason(reason));
  } catch {
    socket.terminate();
  }
}
