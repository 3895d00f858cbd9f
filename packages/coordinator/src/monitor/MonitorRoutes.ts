import type http from 'node:http';
import { printable } from '@adamant/core';
import type { HttpRouteHandler } from '../WorkerServerHooks.js';
import { DashboardAssets } from './DashboardAssets.js';
import { DEFAULT_EVENT_STREAM_LIMITS, EventStream, type EventStreamLimits } from './EventStream.js';
import type { MonitorView } from './MonitorView.js';
import type { PrometheusMetrics } from './PrometheusMetrics.js';

export interface MonitorRoutesOptions {
  /** Serve the dashboard: `/`, its files, and `/events`. */
  dashboard: boolean;
  /** Serve `/metrics` from these; unset: 404 (`--no-metrics`). */
  metrics?: PrometheusMetrics;
  streamLimits?: EventStreamLimits;
}

/** Headers of every answer: nothing is cached, sniffed or framed, and the connection is not kept (the port's guard closes idle ones). */
const COMMON_HEADERS = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff', Connection: 'close' };

/** The page loads only its own files and talks only to this origin. */
const PAGE_POLICY = "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/**
 * The coordinator's plain-HTTP routes, beside the workers' WebSocket upgrades on the same port:
 * `GET /metrics` (Prometheus), `GET /healthz` (the process serves), `GET /readyz` (training can
 * proceed; 503 with the reason otherwise), and with the dashboard `GET /`, its files and
 * `GET /events`. Only GET and HEAD; other paths 404. A request body is never read: the answer
 * closes the connection, so a request costs at most its own connection. Nothing here needs the
 * token, so nothing here shows it or the data: the config, figures and worker names only.
 */
export class MonitorRoutes {
  private readonly stream: EventStream | undefined;
  private readonly assets: DashboardAssets | undefined;

  constructor(
    private readonly view: MonitorView,
    private readonly options: MonitorRoutesOptions,
  ) {
    if (options.dashboard) {
      const stream = new EventStream(view, options.streamLimits ?? DEFAULT_EVENT_STREAM_LIMITS);
      this.stream = stream;
      this.assets = new DashboardAssets();
      view.onClose(() => stream.close());
    }
  }

  readonly handle: HttpRouteHandler = (request, response, keepOpen) => {
    try {
      this.route(request, response, keepOpen);
    } catch (err) {
      this.fail(response, err);
    }
  };

  private route(request: http.IncomingMessage, response: http.ServerResponse, keepOpen: () => void): void {
    const path = (request.url ?? '/').split('?', 1)[0]!;
    const serve = this.find(path);
    if (!serve) {
      const hint = path === '/' && !this.assets ? ' (the dashboard needs --dashboard)' : '';
      sendText(response, 404, `not found: ${printable(path, 80)}${hint}; this port serves ${this.served().join(', ')} and WebSocket workers\n`);
    } else if (request.method !== 'GET' && request.method !== 'HEAD') {
      response.setHeader('Allow', 'GET, HEAD');
      sendText(response, 405, `${printable(request.method ?? '?', 16)} is not allowed on ${path}; use GET\n`);
    } else {
      serve(request, response, keepOpen);
    }
  }

  /** The route at `path`, if this coordinator serves it. */
  private find(path: string): ((request: http.IncomingMessage, response: http.ServerResponse, keepOpen: () => void) => void) | undefined {
    switch (path) {
      case '/healthz':
        return (_request, response) => sendJson(response, 200, { status: 'ok' });
      case '/readyz':
        return (_request, response) => {
          const readiness = this.view.readiness();
          sendJson(response, readiness.ready ? 200 : 503, readiness);
        };
      case '/metrics':
        return this.options.metrics ? (_request, response) => this.metrics(response) : undefined;
      case '/events':
        return this.stream ? (request, response, keepOpen) => this.stream!.open(request, response, keepOpen) : undefined;
      default:
        return this.assets?.has(path) ? (_request, response) => this.asset(path, response) : undefined;
    }
  }

  private served(): string[] {
    return [...(this.options.metrics ? ['/metrics'] : []), '/healthz', '/readyz', ...(this.assets ? ['/ (the dashboard)'] : [])];
  }

  private metrics(response: http.ServerResponse): void {
    this.options
      .metrics!.render()
      .then(({ body, contentType }) => {
        if (response.destroyed) return;
        response.writeHead(200, { ...COMMON_HEADERS, 'Content-Type': contentType, 'Content-Length': Buffer.byteLength(body) });
        response.end(body);
      })
      .catch((err: unknown) => this.fail(response, err));
  }

  private asset(path: string, response: http.ServerResponse): void {
    const { body, contentType } = this.assets!.get(path);
    const policy = path === '/' ? { 'Content-Security-Policy': PAGE_POLICY, 'Referrer-Policy': 'no-referrer' } : {};
    response.writeHead(200, { ...COMMON_HEADERS, ...policy, 'Content-Type': contentType, 'Content-Length': body.byteLength });
    response.end(body);
  }

  /** A fault of ours: 500 with its message when nothing was sent yet, else the connection is cut. */
  private fail(response: http.ServerResponse, err: unknown): void {
    if (response.headersSent) {
      response.destroy();
      return;
    }
    sendText(response, 500, `internal error: ${printable(err instanceof Error ? err.message : String(err), 300)}\n`);
  }
}

function sendText(response: http.ServerResponse, status: number, text: string): void {
  response.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  response.end(text);
}

function sendJson(response: http.ServerResponse, status: number, value: unknown): void {
  const body = `${JSON.stringify(value)}\n`;
  response.writeHead(status, { ...COMMON_HEADERS, 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  response.end(body);
}
