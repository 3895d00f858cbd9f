import type http from 'node:http';
import type { MonitorView } from './MonitorView.js';

export interface EventStreamLimits {
  /** Dashboards streaming at once; more get 503 (each holds a connection the guard would otherwise close). */
  maxClients: number;
  /** How often deltas go out: often enough to look live, rarely enough that a fast job's steps cost nothing. */
  flushEveryMs: number;
  /** A dashboard that lets more than this pile up unread is cut off (its browser reconnects and gets a snapshot). */
  maxUnsentBytes: number;
}

export const DEFAULT_EVENT_STREAM_LIMITS: EventStreamLimits = { maxClients: 8, flushEveryMs: 500, maxUnsentBytes: 1 << 20 };

/**
 * The dashboard's live feed (`GET /events`, server-sent events): a `snapshot` event on connect,
 * then a `delta` every `flushEveryMs` (the new rows, and the status as of now), or a fresh
 * `snapshot` when more happened than a delta holds. Bounded: a few clients, and a slow reader is
 * dropped rather than buffered for.
 */
export class EventStream {
  private readonly clients = new Set<http.ServerResponse>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly view: MonitorView,
    private readonly limits: EventStreamLimits = DEFAULT_EVENT_STREAM_LIMITS,
  ) {}

  get clientCount(): number {
    return this.clients.size;
  }

  /** Answers `GET /events`: 503 beyond maxClients; otherwise the stream stays open until the client or the server closes it. */
  open(request: http.IncomingMessage, response: http.ServerResponse, keepOpen: () => void): void {
    if (this.clients.size >= this.limits.maxClients) {
      const body = JSON.stringify({ error: `${this.clients.size} dashboards are streaming already (the limit is ${this.limits.maxClients})` });
      response.writeHead(503, { 'Content-Type': 'application/json', 'Retry-After': '10', Connection: 'close', 'Content-Length': Buffer.byteLength(body) });
      response.end(body);
      return;
    }
    response.writeHead(200, { 'Content-Type': 'text/event-stream; charset=utf-8', 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' });
    if (request.method === 'HEAD') {
      response.end();
      return;
    }
    keepOpen();
    // The first client's snapshot holds everything so far: what piled up for a delta would come twice.
    if (this.clients.size === 0) this.view.takeDelta();
    this.clients.add(response);
    response.on('close', () => {
      this.clients.delete(response);
      if (this.clients.size === 0) this.stopTimer();
    });
    response.write(`retry: 2000\n${event('snapshot', this.view.snapshot())}`);
    this.timer ??= setInterval(() => this.flush(), this.limits.flushEveryMs).unref();
  }

  /** Ends every stream (the coordinator is closing). */
  close(): void {
    this.stopTimer();
    for (const client of this.clients) client.end();
    this.clients.clear();
  }

  /** Sends what changed to every client; cuts off those that do not keep up. */
  flush(): void {
    if (this.clients.size === 0) return;
    const delta = this.view.takeDelta();
    const frame = delta === 'resync' ? event('snapshot', this.view.snapshot()) : event('delta', delta);
    for (const client of this.clients) {
      if (client.writableLength > this.limits.maxUnsentBytes) {
        client.destroy();
        continue;
      }
      client.write(frame);
    }
  }

  private stopTimer(): void {
    clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** One server-sent event; JSON has no raw newlines, so the data is one line. */
function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}
