import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  createCodec,
  PROTOCOL_VERSION,
  ProtocolError,
  toAdamantError,
  type AdamantError,
  type ChunkResult,
  type CoordinatorMessage,
  type Log,
  type WorkerJob,
} from '@adamant/core';

/** One worker connection, from its first byte to its close. */
export interface WorkerSession {
  readonly id: number;
  /** "host:pid (address:port)" once it said hello; its address before. */
  name: string;
  readonly socket: WebSocket;
  state: 'handshake' | 'joining' | 'ready';
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
  /** A ready worker sent a chunk result. Throwing rejects the worker, or fails the job (see `fatal`). */
  chunk(session: WorkerSession, message: ChunkResult): void;
  /** An error that must stop the job (E_NUMERIC, E_INTERNAL) came up while handling a frame. */
  fatal(error: AdamantError): void;
}

export interface WorkerServerOptions {
  /** The job every worker receives in its welcome. */
  job: WorkerJob;
  /** The job's identity (see the welcome message): a reconnecting worker of another job is refused. */
  jobId: string;
  /** When set, workers must present it in their hello. */
  token?: string;
  /** A worker silent this long (no frame, no pong) is dropped; see CoordinatorOptions.heartbeatMs. */
  heartbeatMs: number;
  /** Largest frame accepted from a worker, in bytes. */
  maxPayload: number;
  log: Log;
  handlers: WorkerServerHandlers;
}

/**
 * Where to listen: a host and port (an HTTP server of our own, answering plain requests with 426),
 * or an existing `http.Server` / `https.Server` whose upgrade requests we take (listening on
 * host and port if it does not listen yet). The latter lets TLS and HTTP routes share the port.
 */
export interface ListenTarget {
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  server?: http.Server | https.Server;
}

export interface ListenAddress {
  host: string;
  port: number;
  /** ws://HOST:PORT, or wss:// on an https server. */
  url: string;
}

const HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * The coordinator's side of the wire: accepts worker connections, runs the handshake (protocol
 * version, token, welcome with the job), keeps the heartbeat, decodes every frame as untrusted
 * input, and rejects or drops misbehaving peers. Training logic lives elsewhere and hears of
 * workers only through `WorkerServerHandlers`. Created by the coordinator; `listen()`, then
 * `close()`.
 */
export class WorkerServer {
  private readonly codec = createCodec();
  private readonly sessions = new Map<number, WorkerSession>();
  private nextWorkerId = 1;
  private wss: WebSocketServer | undefined;
  private ownServer: http.Server | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private finished = false;

  constructor(private readonly options: WorkerServerOptions) {}

  /** Sessions that finished their handshake and can take chunks, in join order. */
  get ready(): WorkerSession[] {
    return [...this.sessions.values()].filter((s) => s.state === 'ready');
  }

  /** The backends the ready workers reported. */
  get backends(): string[] {
    return [...new Set([...this.sessions.values()].map((s) => s.backend).filter((b): b is string => !!b))];
  }

  async listen(target: ListenTarget = {}): Promise<ListenAddress> {
    const server = target.server ?? http.createServer(upgradeRequired);
    if (!target.server) this.ownServer = server;
    const wss = new WebSocketServer({ server, maxPayload: this.options.maxPayload, perMessageDeflate: false });
    this.wss = wss;
    wss.on('connection', (socket, request) => this.accept(socket, request));
    if (!server.listening) {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(target.port ?? 0, target.host ?? '127.0.0.1', () => {
          server.off('error', reject);
          resolve();
        });
      });
    }
    const heartbeat = this.options.heartbeatMs;
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(heartbeat), Math.max(heartbeat / 4, 50));
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const scheme = server instanceof https.Server ? 'wss' : 'ws';
    return { host: address.address, port: address.port, url: `${scheme}://${shownHost}:${address.port}` };
  }

  send(session: WorkerSession, message: CoordinatorMessage): void {
    session.socket.send(this.codec.encode(message));
  }

  /** Training is over: tells every worker past its hello, and stops reporting departures. */
  finish(): void {
    this.finished = true;
    for (const session of this.sessions.values()) if (session.state !== 'handshake') this.send(session, { type: 'done' });
  }

  /** Training stops before the end (a checkpoint is saved): tells every worker past its hello. */
  stop(reason: string): void {
    this.finished = true;
    for (const session of this.sessions.values()) if (session.state !== 'handshake') this.send(session, { type: 'stop', reason });
  }

  /** Disconnects every worker and stops listening (an http server passed in stays open). */
  async close(): Promise<void> {
    this.finished = true;
    clearInterval(this.heartbeatTimer);
    for (const session of this.sessions.values()) session.socket.close(1001, 'coordinator shutting down');
    await new Promise<void>((resolve) => (this.wss ? this.wss.close(() => resolve()) : resolve()));
    const own = this.ownServer;
    if (own) {
      own.closeAllConnections();
      await new Promise<void>((resolve) => own.close(() => resolve()));
    }
  }

  /** Pings every worker; drops those silent for longer than `heartbeat` ms. */
  private checkHeartbeats(heartbeat: number): void {
    const now = performance.now();
    for (const session of [...this.sessions.values()]) {
      if (now - session.heardAt > heartbeat) {
        this.options.log.warn('worker silent; presumed gone', { worker: session.name, silentMs: Math.round(now - session.heardAt) });
        // terminate(), not close(): a peer behind a partition would never answer the close handshake.
        session.socket.terminate();
        this.onClose(session, `no answer for ${Math.round(heartbeat / 1000)} s (heartbeat)`);
      } else {
        session.socket.ping();
      }
    }
  }

  private accept(socket: WebSocket, request: http.IncomingMessage): void {
    const session: WorkerSession = {
      id: this.nextWorkerId++,
      name: `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`,
      socket,
      state: 'handshake',
      heardAt: performance.now(),
    };
    socket.on('pong', () => {
      session.heardAt = performance.now();
    });
    this.sessions.set(session.id, session);
    const handshakeTimer = setTimeout(() => {
      if (session.state === 'handshake') this.drop(session, 1008, 'no hello within 15 s');
    }, HANDSHAKE_TIMEOUT_MS);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      session.heardAt = performance.now();
      try {
        if (!isBinary) throw new ProtocolError(`worker ${session.name}: sent a text frame; the protocol is binary msgpack`);
        this.onMessage(session, data);
      } catch (err) {
        const error = toAdamantError(err);
        if (error.code === 'E_NUMERIC' || error.code === 'E_INTERNAL') return this.options.handlers.fatal(error);
        this.options.log.warn('dropping worker', { worker: session.name, code: error.code, error: error.message });
        this.reject(session, error);
      }
    });
    socket.on('close', (code, reason) => {
      clearTimeout(handshakeTimer);
      const why = code === 1009 ? 'sent a frame over the size limit' : reason.toString() || `connection closed (code ${code})`;
      this.onClose(session, why);
    });
    socket.on('error', (err) => this.options.log.debug('socket error', { worker: session.name, error: err.message }));
  }

  private reject(session: WorkerSession, error: AdamantError): void {
    const code = (['E_VERSION', 'E_AUTH', 'E_JOB'] as const).find((c) => c === error.code) ?? 'E_PROTOCOL';
    try {
      this.send(session, { type: 'reject', code, message: error.message });
    } catch {
      // Already gone.
    }
    this.drop(session, 1008, error.code);
  }

  private drop(session: WorkerSession, code: number, reason: string): void {
    session.socket.close(code, reason.slice(0, 120));
    // Do not wait for the peer's close frame to reassign its chunks.
    this.onClose(session, reason);
  }

  private onMessage(session: WorkerSession, frame: Buffer): void {
    const message = this.codec.decodeWorkerMessage(frame, `worker ${session.name}`);
    switch (message.type) {
      case 'hello': {
        if (session.state !== 'handshake') throw new ProtocolError(`worker ${session.name}: sent a second hello`);
        session.name = `${message.name} (${session.name})`;
        if (message.protocol !== PROTOCOL_VERSION) {
          throw new ProtocolError(`worker ${session.name} speaks protocol ${message.protocol}, the coordinator speaks ${PROTOCOL_VERSION}; run the same Adamant version on both`, 'E_VERSION');
        }
        if (this.options.token !== undefined && message.token !== this.options.token) {
          throw new ProtocolError(`worker ${session.name} presented ${message.token === undefined ? 'no token' : 'a wrong token'}`, 'E_AUTH');
        }
        if (message.jobId !== undefined && message.jobId !== this.options.jobId) {
          throw new ProtocolError(`worker ${session.name} served job ${message.jobId}, this coordinator runs job ${this.options.jobId}`, 'E_JOB');
        }
        session.state = 'joining';
        this.send(session, { type: 'welcome', protocol: PROTOCOL_VERSION, workerId: session.id, job: this.options.job, heartbeatMs: this.options.heartbeatMs, jobId: this.options.jobId });
        return;
      }
      case 'ready': {
        if (session.state !== 'joining') throw new ProtocolError(`worker ${session.name}: sent ready before its hello`);
        session.state = 'ready';
        session.backend = message.backend;
        const backends = this.backends;
        if (backends.length > 1) this.options.log.warn('workers run different backends: results stay correct but are no longer bitwise reproducible', { backends });
        this.options.log.info('worker joined', { worker: session.name, id: session.id, backend: message.backend });
        this.options.handlers.joined(session);
        return;
      }
      case 'chunk':
        if (session.state !== 'ready') throw new ProtocolError(`worker ${session.name}: sent a chunk before it was ready`);
        this.options.handlers.chunk(session, message);
        return;
      case 'failed':
        this.options.log.error('worker failed', { worker: session.name, code: message.code, error: message.message });
        this.drop(session, 1000, `worker failed: ${message.code}`);
        return;
    }
  }

  private onClose(session: WorkerSession, reason: string): void {
    if (!this.sessions.delete(session.id)) return;
    if (!this.finished) this.options.handlers.left(session, reason, session.state === 'ready');
  }
}

/** What our own HTTP server answers to anything but a WebSocket upgrade (as `ws` does). */
function upgradeRequired(_request: http.IncomingMessage, response: http.ServerResponse): void {
  const body = http.STATUS_CODES[426] ?? 'Upgrade Required';
  response.writeHead(426, { 'Content-Length': Buffer.byteLength(body), 'Content-Type': 'text/plain' });
  response.end(body);
}
