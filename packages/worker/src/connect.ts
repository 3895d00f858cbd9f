import { randomInt } from 'node:crypto';
import WebSocket from 'ws';
import { ConnectError, type Log } from '@adamant/core';
import { reconnectDelayMs } from './reconnectDelay.js';
import { CertificateError, connectTls, type WorkerTls } from './tls.js';

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
    case 'ERR_SSL_WRONG_VERSION_NUMBER':
      return 'it does not speak TLS (a ws:// coordinator?)';
    default:
      return err.message || String(err.code);
  }
}

/** Where a worker connects: the coordinator's URL, the largest frame it takes, and for `wss://` whom it trusts. */
export interface Endpoint {
  url: string;
  maxPayload: number;
  tls?: WorkerTls;
}

/** One attempt to open the WebSocket: resolves once it is open, rejects with the socket's error. */
async function openSocket({ url, maxPayload, tls }: Endpoint, handshakeTimeoutMs?: number): Promise<WebSocket> {
  // On wss:// the TLS connection is made and its certificate checked first: the upgrade request,
  // and everything after it, is written only to a coordinator this worker trusts.
  const secured = new URL(url).protocol === 'wss:' ? await connectTls(url, tls ?? {}, handshakeTimeoutMs) : undefined;
  const socket = new WebSocket(url, {
    maxPayload,
    perMessageDeflate: false,
    ...(handshakeTimeoutMs ? { handshakeTimeout: handshakeTimeoutMs } : {}),
    ...(secured ? { createConnection: () => secured } : {}),
  });
  socket.binaryType = 'nodebuffer';
  return new Promise((resolve, reject) => {
    socket.once('open', () => {
      // The coordinator's challenge may come in the same packet as the upgrade response: hold it
      // until serveConnection listens (it resumes), or the frame would be emitted to no one.
      socket.pause();
      resolve(socket);
    });
    socket.once('error', reject);
  });
}

/** Opens the first connection, retrying refused connections until the deadline (the coordinator may not be up yet). */
export async function connect(endpoint: Endpoint, deadline: number, log: Log): Promise<WebSocket> {
  const { url } = endpoint;
  for (let attempt = 1; ; attempt++) {
    try {
      return await openSocket(endpoint);
    } catch (err) {
      if (err instanceof CertificateError) throw err;
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
 * these ways for a while. Rejects with E_CONNECT saying how long it tried, or at once with a
 * CertificateError for a certificate it cannot trust.
 */
export async function reconnect(endpoint: Endpoint, state: Reconnection, log: Log): Promise<WebSocket> {
  const { url } = endpoint;
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
      return await openSocket(endpoint, Math.max(1000, Math.min(10_000, state.deadline - Date.now())));
    } catch (err) {
      // A certificate that cannot be trusted will not become trustworthy by waiting.
      if (err instanceof CertificateError) throw err;
      state.lastFailure = describeSocketError(err as Error & { code?: string });
    }
  }
}
