import type { WorkerSession } from '../workerSession.js';

/** joined: proved the token and got the job; ready: built the model, takes chunks; gone: disconnected; quarantined: contradicted by two others (--verify). */
export type WorkerState = 'joined' | 'ready' | 'gone' | 'quarantined';

export const WORKER_STATES: readonly WorkerState[] = ['joined', 'ready', 'gone', 'quarantined'];

/** One worker as the dashboard shows it. */
export interface WorkerRow {
  /** Its current (or last) session's id, as the logs name it. */
  id: number;
  /** The name it gave in its hello (host:pid). */
  name: string;
  /** address:port of its current (or last) connection. */
  address: string;
  /** Its backend identity once ready: the tfjs backend and, on the fused path, the GEMM engine ("wasm+openblas 0.3.21 Haswell"). */
  backend: string | null;
  state: WorkerState;
  /** Chunk results received from it (training and validation). */
  chunks: number;
  chunksPerSecond: number;
  /** Seconds since it last sent anything (a frame or a pong). */
  lastHeardSecondsAgo: number;
  /** Its sessions that ended before the job did (lost, dropped, failed). */
  failures: number;
  /** Its chunks handed to other workers when it left. */
  reassigned: number;
  /** Why its last session ended, while it is gone. */
  reason: string | null;
  bytesIn: number;
  bytesOut: number;
}

interface Entry {
  row: WorkerRow;
  /** While connected: the live session, whose heardAt the heartbeat keeps. */
  session: WorkerSession | undefined;
  /** performance.now() when it was last heard, once gone. */
  heardAt: number;
  /** Chunks counted in the current rate window, and when the window opened. */
  windowChunks: number;
  windowStartedAt: number;
}

/** A rate is measured over windows of this length: long enough to be steady, short enough to follow a slowdown. */
const RATE_WINDOW_MS = 5_000;

/**
 * The workers of the job, one row per worker (by its hello name, so a worker that reconnects keeps
 * its row and its history). At most `capacity` rows: beyond it the longest-gone rows are forgotten.
 */
export class WorkerTable {
  private readonly entries = new Map<string, Entry>();
  private readonly bySession = new Map<number, Entry>();

  constructor(
    private readonly capacity = 512,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A session proved the token and got the job. */
  joined(session: WorkerSession, address: string): void {
    const name = helloName(session.name);
    const existing = this.entries.get(name);
    const at = this.now();
    const entry: Entry = existing ?? {
      row: { id: session.id, name, address, backend: null, state: 'joined', chunks: 0, chunksPerSecond: 0, lastHeardSecondsAgo: 0, failures: 0, reassigned: 0, reason: null, bytesIn: 0, bytesOut: 0 },
      session,
      heardAt: at,
      windowChunks: 0,
      windowStartedAt: at,
    };
    Object.assign(entry.row, { id: session.id, address, state: 'joined', reason: null, chunksPerSecond: 0 });
    Object.assign(entry, { session, windowChunks: 0, windowStartedAt: at });
    if (!existing) this.entries.set(name, entry);
    this.bySession.set(session.id, entry);
    this.forgetBeyondCapacity();
  }

  ready(session: WorkerSession): void {
    const entry = this.bySession.get(session.id);
    if (!entry) return;
    entry.row.state = 'ready';
    entry.row.backend = session.backend ?? null;
  }

  /** A chunk result came from the session. */
  chunk(sessionId: number): void {
    const entry = this.bySession.get(sessionId);
    if (!entry) return;
    entry.row.chunks++;
    entry.windowChunks++;
    const at = this.now();
    const elapsed = at - entry.windowStartedAt;
    if (elapsed >= RATE_WINDOW_MS) {
      entry.row.chunksPerSecond = (entry.windowChunks * 1000) / elapsed;
      entry.windowChunks = 0;
      entry.windowStartedAt = at;
    }
  }

  bytes(sessionId: number, received: number, sent: number): void {
    const entry = this.bySession.get(sessionId);
    if (!entry) return;
    entry.row.bytesIn += received;
    entry.row.bytesOut += sent;
  }

  /** The session's chunks went to others when it left (told after `left`, so found by the worker's name). */
  reassigned(session: WorkerSession, chunks: number): void {
    const entry = this.entries.get(helloName(session.name));
    if (entry) entry.row.reassigned += chunks;
  }

  /** The session ended: `failure` unless the job ended first; quarantined when two others contradicted it. */
  left(session: WorkerSession, reason: string, failure: boolean, quarantined: boolean): void {
    const entry = this.bySession.get(session.id);
    if (!entry) return;
    this.bySession.delete(session.id);
    if (entry.session !== session) return;
    entry.session = undefined;
    entry.heardAt = session.heardAt;
    entry.row.state = quarantined ? 'quarantined' : 'gone';
    entry.row.reason = reason;
    entry.row.chunksPerSecond = 0;
    if (failure) entry.row.failures++;
  }

  /** How many workers are in each state. */
  counts(): Record<WorkerState, number> {
    const counts = { joined: 0, ready: 0, gone: 0, quarantined: 0 };
    for (const { row } of this.entries.values()) counts[row.state]++;
    return counts;
  }

  /** The rows as of now, in the order the workers first joined. */
  rows(): WorkerRow[] {
    const at = this.now();
    return [...this.entries.values()].map((entry) => {
      const heardAt = entry.session?.heardAt ?? entry.heardAt;
      const rate = this.liveRate(entry, at);
      return { ...entry.row, chunksPerSecond: round(rate, 2), lastHeardSecondsAgo: round(Math.max(0, at - heardAt) / 1000, 1) };
    });
  }

  /** The last full window's rate, or the current window's once it has run a second (a new worker shows a rate soon). */
  private liveRate(entry: Entry, at: number): number {
    if (!entry.session) return 0;
    const elapsed = at - entry.windowStartedAt;
    if (entry.row.chunksPerSecond === 0 && elapsed >= 1_000) return (entry.windowChunks * 1000) / elapsed;
    return entry.row.chunksPerSecond;
  }

  private forgetBeyondCapacity(): void {
    for (const [name, entry] of this.entries) {
      if (this.entries.size <= this.capacity) return;
      if (!entry.session) this.entries.delete(name);
    }
  }
}

/** The name a worker gave in its hello: the session name without the " (address:port)" the server appends. */
export function helloName(sessionName: string): string {
  return sessionName.replace(/ \([^()]*\)$/, '');
}

function round(value: number, digits: number): number {
  const scale = 10 ** digits;
  return Math.round(value * scale) / scale;
}
