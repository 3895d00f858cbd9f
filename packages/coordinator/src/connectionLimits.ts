import type http from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { Log } from '@adamant/core';
import { LogThrottle } from './LogThrottle.js';

/**
 * What one coordinator spends on connections at most. Anyone who can reach the port can open
 * connections; without bounds, idle or slow ones pile up until the process runs out of sockets or
 * memory. The defaults leave honest jobs (tens of workers) far from every bound.
 */
export interface ConnectionLimits {
  /**
   * Open connections at most: TCP connections on a server the worker server guards (its own, or
   * one handed to it with `guardConnections`), WebSocket sessions otherwise. Beyond it new
   * connections are closed at once. Default 256.
   */
  maxConnections: number;
  /** Sessions that have not finished their handshake (said hello) at most; beyond it new upgrades get 503. Default 32. */
  maxHandshakes: number;
  /** A guarded TCP connection that has not asked for the WebSocket upgrade by then is closed. Default 5 s. */
  upgradeTimeoutMs: number;
  /** A session that has not sent its hello by then is dropped. Default 10 s. */
  handshakeTimeoutMs: number;
  /**
   * A worker whose unsent outgoing bytes exceed this is dropped as too slow to read, and its
   * chunks go to the others. Default: 4 times the largest message sent so far, at least 256 MiB.
   */
  maxBufferedBytes?: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  maxConnections: 256,
  maxHandshakes: 32,
  upgradeTimeoutMs: 5_000,
  handshakeTimeoutMs: 10_000,
};

/** The floor of the default bound on a worker's unsent bytes. */
export const MIN_BUFFERED_BYTES_BOUND = 256 * 2 ** 20;

/**
 * Enforces the connection limits at the two doors before a session exists: the TCP connection
 * (counted, and closed if it does not upgrade in time) and the HTTP upgrade (refused with 503
 * beyond the bounds). Refusals are logged at most once a minute, with how many there were.
 */
export class ConnectionGuard {
  private readonly sockets = new Set<Socket>();
  /** Guarded connections that have not upgraded yet, by "address:port" (the same for a TLS socket and its TCP socket). */
  private readonly awaitingUpgrade = new Map<string, NodeJS.Timeout>();
  private readonly refusals = new LogThrottle();
  private guardedServer: http.Server | undefined;

  constructor(
    readonly limits: ConnectionLimits,
    private readonly log: Log,
  ) {}

  /**
   * Guards every TCP connection of `server`: a count, and a timer that closes a connection still
   * not upgraded after `upgradeTimeoutMs`. Only for a server that serves nothing but upgrades
   * (and 426 answers), since an HTTP client there would be cut off too.
   */
  guard(server: http.Server): void {
    this.guardedServer = server;
    // Headers of the upgrade request must come in quickly as well (Node checks these periodically).
    server.headersTimeout = this.limits.upgradeTimeoutMs;
    server.requestTimeout = this.limits.upgradeTimeoutMs;
    server.on('connection', this.onConnection);
  }

  /** Stops guarding (a server handed in stays open after the worker server closes). */
  unguard(): void {
    this.guardedServer?.off('connection', this.onConnection);
    for (const timer of this.awaitingUpgrade.values()) clearTimeout(timer);
    this.awaitingUpgrade.clear();
  }

  /** Whether an upgrade may become a session, given the sessions open and those still in their handshake; refuses it if not. */
  admitUpgrade(socket: Duplex, sessions: number, handshaking: number): boolean {
    const key = peerKey(socket as Socket);
    clearTimeout(this.awaitingUpgrade.get(key));
    this.awaitingUpgrade.delete(key);
    const { maxConnections, maxHandshakes } = this.limits;
    const reason =
      !this.guardedServer && sessions >= maxConnections
        ? `${sessions} connections open (the limit is ${maxConnections})`
        : handshaking >= maxHandshakes
          ? `${handshaking} connections still in their handshake (the limit is ${maxHandshakes})`
          : undefined;
    if (reason === undefined) return true;
    this.refused(reason);
    // As ws answers a refused upgrade: a complete HTTP response, then the connection closed.
    socket.once('finish', () => socket.destroy());
    socket.end('HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nRetry-After: 5\r\nContent-Length: 0\r\n\r\n');
    return false;
  }

  /** A guarded connection now carries a long-lived HTTP stream (the dashboard's events): still counted, but no longer closed for not upgrading. */
  keepOpen(socket: Duplex): void {
    const key = peerKey(socket as Socket);
    clearTimeout(this.awaitingUpgrade.get(key));
    this.awaitingUpgrade.delete(key);
  }

  private readonly onConnection = (socket: Socket): void => {
    if (this.sockets.size >= this.limits.maxConnections) {
      this.refused(`${this.sockets.size} connections open (the limit is ${this.limits.maxConnections})`);
      socket.destroy();
      return;
    }
    this.sockets.add(socket);
    const key = peerKey(socket);
    const timer = setTimeout(() => {
      this.log.debug('closing a connection that did not ask for a WebSocket in time', { peer: key, afterMs: this.limits.upgradeTimeoutMs });
      socket.destroy();
    }, this.limits.upgradeTimeoutMs);
    timer.unref();
    this.awaitingUpgrade.set(key, timer);
    socket.once('close', () => {
      this.sockets.delete(socket);
      clearTimeout(timer);
      if (this.awaitingUpgrade.get(key) === timer) this.awaitingUpgrade.delete(key);
    });
  };

  private refused(reason: string): void {
    const admitted = this.refusals.admit('refused');
    if (admitted) this.log.warn('refusing new connections', { reason, ...(admitted.suppressed ? { alsoRefusedLastMinute: admitted.suppressed } : {}) });
  }
}

function peerKey(socket: Socket): string {
  return `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
}
