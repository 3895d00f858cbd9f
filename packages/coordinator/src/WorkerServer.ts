import http from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  createCodec,
  newNonce,
  printable,
  PROTOCOL_VERSION,
  ProtocolError,
  REJECT_MESSAGE_MAX,
  toAdamantError,
  type AdamantError,
  type CoordinatorMessage,
  type Log,
  type WorkerJob,
} from '@adamant/core';
import { ConnectionGuard, DEFAULT_CONNECTION_LIMITS, MIN_BUFFERED_BYTES_BOUND, type ConnectionLimits } from './connectionLimits.js';
import { backendIdentity, checkJob, checkProof, sessionName } from './handshake.js';
import { createUpgradeServer, type ListenAddress, listenOn, type ListenTarget } from './listenTarget.js';
import { FramePool } from './FramePool.js';
import { LogThrottle } from './LogThrottle.js';
import { closeSocket, type Connection, type WorkerServerHandlers, type WorkerSession } from './workerSession.js';
import type { HttpRouteHandler, SessionObserver } from './WorkerServerHooks.js';

export type { ListenAddress, ListenTarget } from './listenTarget.js';
export type { WorkerServerHandlers, WorkerSession } from './workerSession.js';
export type { HttpRouteHandler, SessionObserver } from './WorkerServerHooks.js';

export interface WorkerServerOptions {
  /** The job every worker receives in its welcome. */
  job: WorkerJob;
  /** The job's identity (see the welcome message): a reconnecting worker of another job is refused. */
  jobId: string;
  /** When set, workers must prove they hold it (HMAC of the challenge); unset, any proof passes. */
  token?: string;
  /** A worker silent this long (no frame, no pong) is dropped; see CoordinatorOptions.heartbeatMs. */
  heartbeatMs: number;
  /** Largest frame accepted from a worker, in bytes. */
  maxPayload: number;
  /** Bounds on connections (defaults: DEFAULT_CONNECTION_LIMITS); `listen`'s target may override them. */
  limits?: Partial<ConnectionLimits>;
  log: Log;
  handlers: WorkerServerHandlers;
  observer?: SessionObserver;
  /**
   * Plain HTTP requests, on our own server or on a server handed in without a request listener of
   * its own; unset, our own server answers 426 (as ws does).
   */
  routes?: HttpRouteHandler;
}

/** After sending its close frame, how long a dropped peer has to answer before its socket is destroyed. */
const CLOSE_GRACE_MS = 2_000;

/**
 * The coordinator's side of the wire: accepts worker connections within the connection limits,
 * runs the handshake (challenge, proof of the token, protocol version, welcome with the job),
 * keeps the heartbeat, decodes every frame as untrusted input, and rejects or drops misbehaving
 * peers. Whatever a peer sends costs at most its own connection. Training logic lives elsewhere
 * and hears of workers only through `WorkerServerHandlers`. Created by the coordinator;
 * `listen()`, then `close()`.
 */
export class WorkerServer {
  private readonly codec = createCodec();
  private readonly connections = new Map<number, Connection>();
  /** Refusals of peers that have not proved they hold the token are logged once a minute per address. */
  private readonly handshakeFailures = new LogThrottle();
  private nextWorkerId = 1;
  private limits: ConnectionLimits;
  private wss: WebSocketServer | undefined;
  private server: http.Server | undefined;
  private ownServer = false;
  private servesRoutes = false;
  private guard: ConnectionGuard | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private largestMessage = 0;
  private finished = false;

  constructor(private readonly options: WorkerServerOptions) {
    this.limits = { ...DEFAULT_CONNECTION_LIMITS, ...options.limits };
  }

  /** Sessions that finished their handshake and can take chunks, in join order. */
  get ready(): WorkerSession[] {
    return [...this.connections.values()].map((c) => c.session).filter((s) => s.state === 'ready');
  }

  /** The backend identities (backend and GEMM engine, see backendIdentity) the ready workers reported. */
  get backends(): string[] {
    return [...new Set([...this.connections.values()].map((c) => c.session.backend).filter((b): b is string => !!b))];
  }

  async listen(target: ListenTarget = {}): Promise<ListenAddress> {
    this.limits = { ...this.limits, ...target.limits };
    const { routes } = this.options;
    const server = target.server ?? (routes ? http.createServer() : createUpgradeServer());
    this.server = server;
    this.ownServer = !target.server;
    // A server handed in with a request listener of its own keeps answering plain HTTP itself.
    this.servesRoutes = routes !== undefined && (this.ownServer || server.listenerCount('request') === 0);
    if (this.servesRoutes) server.on('request', this.onRequest);
    this.guard = new ConnectionGuard(this.limits, this.options.log);
    if (this.ownServer || target.guardConnections) this.guard.guard(server);
    // noServer: we take the upgrades ourselves, to refuse them beyond the limits before ws does any work.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: this.options.maxPayload, perMessageDeflate: false, clientTracking: false });
    server.on('upgrade', this.onUpgrade);
    const address = await listenOn(server, target);
    const heartbeat = this.options.heartbeatMs;
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(heartbeat), Math.max(heartbeat / 4, 50));
    return address;
  }

  /**
   * Sends a message; never throws. A worker that cannot be sent to, or that has let more than the
   * bound of bytes pile up unread, is dropped (after the caller's turn: no `left` inside a send).
   */
  send(session: WorkerSession, message: CoordinatorMessage): void {
    const connection = this.connections.get(session.id);
    if (!connection || connection.closed) return;
    try {
      const frame = this.codec.encode(message, connection.frames.take());
      this.largestMessage = Math.max(this.largestMessage, frame.byteLength);
      session.socket.send(frame, () => connection.frames.give(frame));
      this.options.observer?.traffic(session, 0, frame.byteLength);
    } catch (err) {
      this.options.log.warn('cannot send to worker; dropping it', { worker: session.name, error: (err as Error).message });
      setImmediate(() => this.drop(connection, 1011, 'coordinator could not send'));
      return;
    }
    const bound = this.limits.maxBufferedBytes ?? Math.max(MIN_BUFFERED_BYTES_BOUND, 4 * this.largestMessage);
    const unsent = session.socket.bufferedAmount;
    if (unsent > bound) {
      this.options.log.warn('worker too slow to read; dropping it, its chunks go to the others', { worker: session.name, unsentBytes: unsent, bound });
      connection.closed = true;
      setImmediate(() => {
        session.socket.terminate();
        this.onClose(connection, `too slow to read (${unsent} bytes unsent)`);
      });
    }
  }

  /** Training is over: tells every worker past its hello, and stops reporting departures. */
  finish(): void {
    this.finished = true;
    this.options.observer?.ended('finished');
    for (const { session } of this.connections.values()) if (session.state !== 'handshake') this.send(session, { type: 'done' });
  }

  /** Training stops before the end (a checkpoint is saved): tells every worker past its hello. */
  stop(reason: string): void {
    this.finished = true;
    this.options.observer?.ended('stopped');
    for (const { session } of this.connections.values()) if (session.state !== 'handshake') this.send(session, { type: 'stop', reason });
  }

  /** Disconnects every worker and stops listening (an http server passed in stays open). */
  async close(): Promise<void> {
    this.finished = true;
    clearInterval(this.heartbeatTimer);
    for (const connection of this.connections.values()) closeSocket(connection.session.socket, 1001, 'coordinator shutting down');
    this.server?.off('upgrade', this.onUpgrade);
    if (this.servesRoutes) this.server?.off('request', this.onRequest);
    this.options.observer?.ended('closed');
    this.guard?.unguard();
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    const own = this.ownServer ? this.server : undefined;
    if (own) {
      own.closeAllConnections();
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  }

  /** Pings every worker; drops those silent for longer than `heartbeat` ms. */
  private checkHeartbeats(heartbeat: number): void {
    const now = performance.now();
    for (const connection of [...this.connections.values()]) {
      const { session } = connection;
      if (now - session.heardAt > heartbeat) {
        this.options.log.warn('worker silent; presumed gone', { worker: session.name, silentMs: Math.round(now - session.heardAt) });
        // terminate(), not close(): a peer behind a partition would never answer the close handshake.
        session.socket.terminate();
        this.onClose(connection, `no answer for ${Math.round(heartbeat / 1000)} s (heartbeat)`);
      } else if (!connection.closed) {
        try {
          session.socket.ping();
        } catch {
          // Closing already; its close event will follow.
        }
      }
    }
  }

  private readonly onRequest = (request: http.IncomingMessage, response: http.ServerResponse): void => {
    this.options.routes?.(request, response, () => this.guard?.keepOpen(request.socket));
  };

  private readonly onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer): void => {
    const handshaking = [...this.connections.values()].filter((c) => c.session.state === 'handshake').length;
    if (!this.guard?.admitUpgrade(socket, this.connections.size, handshaking)) return;
    this.wss?.handleUpgrade(request, socket, head, (ws) => this.accept(ws, request));
  };

  private accept(socket: WebSocket, request: http.IncomingMessage): void {
    const remoteAddress = request.socket.remoteAddress ?? '?';
    const address = `${remoteAddress}:${request.socket.remotePort ?? '?'}`;
    const session: WorkerSession = { id: this.nextWorkerId++, name: address, socket, state: 'handshake', heardAt: performance.now() };
    const connection: Connection = { session, nonce: newNonce(), remoteAddress, address, authenticated: false, closed: false, frames: new FramePool() };
    this.connections.set(session.id, connection);
    socket.on('pong', () => {
      session.heardAt = performance.now();
    });
    const seconds = Math.round(this.limits.handshakeTimeoutMs / 1000);
    connection.handshakeTimer = setTimeout(() => this.refuse(connection, new ProtocolError(`worker ${address}: no hello within ${seconds} s`)), this.limits.handshakeTimeoutMs);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      if (connection.closed) return;
      session.heardAt = performance.now();
      this.options.observer?.traffic(session, data.byteLength, 0);
      try {
        if (!isBinary) throw new ProtocolError(`worker ${session.name}: sent a text frame; the protocol is binary msgpack`);
        this.onMessage(connection, data);
      } catch (err) {
        const error = toAdamantError(err);
        // A non-finite result is the job's problem (data, learning rate), not this peer's: it stops training.
        if (error.code === 'E_NUMERIC') return this.options.handlers.fatal(error);
        this.refuse(connection, error);
      }
    });
    socket.on('close', (code, reason) => {
      const why = code === 1009 ? 'sent a frame over the size limit' : printable(reason.toString()) || `connection closed (code ${code})`;
      this.onClose(connection, why);
    });
    socket.on('error', (err) => this.options.log.debug('socket error', { worker: session.name, error: printable(err.message) }));
    this.send(session, { type: 'challenge', protocol: PROTOCOL_VERSION, nonce: connection.nonce });
  }

  /** Tells the peer why in a `reject`, logs it (for a peer without a valid proof: once a minute per address), and drops it. */
  private refuse(connection: Connection, error: AdamantError): void {
    if (connection.closed) return;
    const { session } = connection;
    const message = printable(error.message, REJECT_MESSAGE_MAX / 2);
    const fields = { worker: session.name, code: error.code, error: message };
    if (connection.authenticated) {
      this.options.log.warn('dropping worker', fields);
    } else {
      const admitted = this.handshakeFailures.admit(connection.remoteAddress);
      const what = error.code === 'E_AUTH' ? 'worker failed authentication' : 'refusing a connection before authentication';
      if (admitted) this.options.log.warn(what, { ...fields, ...(admitted.suppressed ? { alsoFromThisAddressLastMinute: admitted.suppressed } : {}) });
    }
    const code = (['E_VERSION', 'E_AUTH', 'E_JOB'] as const).find((c) => c === error.code) ?? 'E_PROTOCOL';
    this.send(session, { type: 'reject', code, message });
    this.drop(connection, 1008, error.code);
  }

  /** Closes the connection (its later frames are ignored) and reports the session gone at once. */
  private drop(connection: Connection, code: number, reason: string): void {
    connection.closed = true;
    const { socket } = connection.session;
    closeSocket(socket, code, reason);
    // A peer that does not answer our close frame is not worth ws's 30 s wait.
    setTimeout(() => socket.terminate(), CLOSE_GRACE_MS).unref();
    // Do not wait for the peer's close frame to reassign its chunks.
    this.onClose(connection, printable(reason));
  }

  private onMessage(connection: Connection, frame: Buffer): void {
    const { session } = connection;
    const message = this.codec.decodeWorkerMessage(frame, `worker ${session.name}`);
    switch (message.type) {
      case 'hello': {
        if (session.state !== 'handshake') throw new ProtocolError(`worker ${session.name}: sent a second hello`);
        session.name = sessionName(message, connection.address);
        checkProof(message, connection.nonce, this.options.token, session.name);
        connection.authenticated = true;
        checkJob(message, this.options.jobId, session.name);
        clearTimeout(connection.handshakeTimer);
        session.state = 'joining';
        this.options.observer?.joined(session, connection.address);
        this.send(session, { type: 'welcome', protocol: PROTOCOL_VERSION, workerId: session.id, job: this.options.job, heartbeatMs: this.options.heartbeatMs, jobId: this.options.jobId });
        return;
      }
      case 'ready': {
        if (session.state !== 'joining') throw new ProtocolError(`worker ${session.name}: sent ready ${session.state === 'ready' ? 'twice' : 'before its hello'}`);
        session.state = 'ready';
        session.backend = backendIdentity(message);
        const backends = this.backends;
        if (backends.length > 1) {
          this.options.log.warn('workers run different backends or GEMM engines: results stay correct but are no longer bitwise reproducible', { backends });
        }
        this.options.log.info('worker joined', { worker: session.name, id: session.id, backend: session.backend });
        this.options.observer?.ready(session);
        this.options.handlers.joined(session);
        return;
      }
      case 'chunk':
        if (session.state !== 'ready') throw new ProtocolError(`worker ${session.name}: sent a chunk before it was ready`);
        this.options.observer?.chunk(session, message);
        this.options.handlers.chunk(session, message);
        return;
      case 'failed':
        // Before its hello, anyone can claim to have failed: that is a refused handshake like any other.
        if (session.state === 'handshake') throw new ProtocolError(`worker ${session.name}: sent "failed" before its hello`);
        this.options.log.error('worker failed', { worker: session.name, code: printable(message.code, 32), error: printable(message.message) });
        this.drop(connection, 1000, `worker failed: ${message.code}`);
        return;
    }
  }

  private onClose(connection: Connection, reason: string): void {
    const { session } = connection;
    if (!this.connections.delete(session.id)) return;
    connection.closed = true;
    clearTimeout(connection.handshakeTimer);
    this.options.observer?.left(session, reason, this.finished);
    if (this.finished) return;
    try {
      this.options.handlers.left(session, reason, session.state === 'ready');
    } catch (err) {
      this.options.handlers.fatal(toAdamantError(err));
    }
  }
}
