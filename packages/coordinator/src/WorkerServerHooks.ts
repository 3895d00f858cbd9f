import type http from 'node:http';
import type { ChunkResult } from '@adamant/core';
import type { WorkerSession } from './workerSession.js';

// What the worker server tells beyond the training's handlers: for watching a run, and for plain HTTP on its port.

/**
 * Who watches the sessions (the run monitor): what the worker server sees, reported as it happens.
 * It must not throw, and nothing it does reaches training.
 */
export interface SessionObserver {
  /** A session proved the token and got the job. */
  joined(session: WorkerSession, address: string): void;
  ready(session: WorkerSession): void;
  chunk(session: WorkerSession, message: ChunkResult): void;
  /** Bytes of WebSocket messages received from and sent to a session. */
  traffic(session: WorkerSession, received: number, sent: number): void;
  /** A session closed; `jobOver`: after the job finished or stopped (not a failure). */
  left(session: WorkerSession, reason: string, jobOver: boolean): void;
  ended(how: 'finished' | 'stopped' | 'closed'): void;
}

/**
 * Answers a plain HTTP request on the workers' port (GET /metrics, /healthz, …). `keepOpen` exempts
 * the request's connection from the guard's upgrade deadline, for a response that streams.
 */
export type HttpRouteHandler = (request: http.IncomingMessage, response: http.ServerResponse, keepOpen: () => void) => void;
