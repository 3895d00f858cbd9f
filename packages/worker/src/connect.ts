import { randomInt } from 'node:crypto';
import WebSocket from 'ws';
import { ConnectError, type Log } from '@adamant/core';
import { reconnectDelayMs } from './reconnectDelay.js';

const RETRY_DELAY_MS = 250;

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function describeSocketError(err: Error & { code?: string }): string {
  switch (err.code) {
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'host not found';
    case 'ETIMEDOUT':
      return 'timed out';
    case 'ENETUNREACH':
      return 'network unreachable';
    case 'EHOSTUNREACH':
      return 'host unreachable';
    case 'ECONNRESET':
      return 'connection reset';
    default:
      return err.message || String(err.code);
  }
}

/** One attempt to open the WebSocket: resolves once it is open, rejects with the socket's error. */
function openSocket(url: string, maxPayload: number, handshakeTimeoutMs?: number): Promise<WebSocket> {
  const socket = new WebSocket(url, { maxPayload, perMessageDeflate: false, ...(handshakeTimeoutMs ? { handshakeTimeout: handshakeTimeoutMs } : {}) });
  socket.binaryType = 'nodebuffer';
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve(socket));
    socket.once('error', reject);
  });
}

/** Opens the first connection, retrying refused connections until the deadline (the coordinator may not be up yet). */
export async function connect(url: string, deadline: number, maxPayload: number, log: Log): Promise<WebSocket> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await openSocket(url, maxPayload);
    } catch (err) {
      const outcome = err as Error & { code?: string };
      const reason = describeSocketError(outcome);
      if (outcome.code !== 'ECONNREFUSED' || Date.now() + RETRY_DELAY_MS > deadline) {
        throw new ConnectError(`cannot reach coordinator at ${url}: ${reason}${attempt > 1 ? ` (${attempt} attempts)` : ''}`, { cause: outcome });
      }
      log.debug('coordinator not reachable yet, retrying', { url, reason });
      await sleep(RETRY_DELAY_MS);
    }
  }
}

/** Where a reconnection stands: it may span several connections that were lost before their welcome. */
export interface Reconnection {
  /** When the coordinator was lost, and when to give up (Date.now() ms). */
  since: number;
  deadline: number;
  attempts: number;
  /** Why the last attempt failed, for the final error. */
  lastFailure?: string;
}

/**
 * Opens a new connection after the coordinator was lost. Unlike the first connect, every failure
 * (refused, unreachable, host not found, a handshake that hangs) is retried, with backoff, until
 * the deadline: a coordinator being restarted, or behind a healing partition, fails in all of
 * these ways for a while. Rejects with E_CONNECT saying how long it tried.
 */
export async function reconnect(url: string, state: Reconnection, maxPayload: number, log: Log): Promise<WebSocket> {
  const giveUp = () => {
    const tried = ((Date.now() - state.since) / 1000).toFixed(1);
    const last = state.lastFailure ? `; last: ${state.lastFailure}` : '';
    return new ConnectError(`lost coordinator ${url} and could not rejoin it: tried to reconnect for ${tried} s (${state.attempts} attempts${last})`);
  };
  for (;;) {
    // The jitter only spreads the workers' knocks; it touches no result.
    const delay = reconnectDelayMs(state.attempts, randomInt(1000) / 1000);
    const left = state.deadline - Date.now();
    if (left <= 0) throw giveUp();
    const last = state.lastFailure ? { last: state.lastFailure } : {};
    log.info('reconnecting to the coordinator', { url, attempt: state.attempts + 1, inMs: Math.min(delay, left), leftS: Math.round(left / 1000), ...last });
    await sleep(Math.min(delay, left));
    state.attempts++;
    try {
      // A handshake that hangs (a half-open route) counts as a failed attempt, not a stall.
      return await openSocket(url, maxPayload, Math.max(1000, Math.min(10_000, state.deadline - Date.now())));
    } catch (err) {
      state.lastFailure = describeSocketError(err as Error & { code?: string });
    }
  }
}
