import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import type { ConnectionLimits } from './connectionLimits.js';

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
  /**
   * The `server` handed in serves only WebSocket upgrades (and 426 answers), so its TCP
   * connections may be counted and closed like those of a server of our own (connectionLimits.ts).
   */
  guardConnections?: boolean;
  /** Overrides the worker server's connection limits. */
  limits?: Partial<ConnectionLimits>;
}

export interface ListenAddress {
  host: string;
  port: number;
  /** ws://HOST:PORT, or wss:// on an https server. */
  url: string;
}

/** Our own server: it takes WebSocket upgrades only. */
export function createUpgradeServer(): http.Server {
  return http.createServer(upgradeRequired);
}

/** Makes `server` listen on the target's host and port unless it already listens; resolves with where. */
export async function listenOn(server: http.Server, target: ListenTarget): Promise<ListenAddress> {
  if (!server.listening) {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(target.port ?? 0, target.host ?? '127.0.0.1', () => {
        server.off('error', reject);
        resolve();
      });
    });
  }
  const address = server.address() as AddressInfo;
  const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  const scheme = server instanceof https.Server ? 'wss' : 'ws';
  return { host: address.address, port: address.port, url: `${scheme}://${shownHost}:${address.port}` };
}

/** What our own HTTP server answers to anything but a WebSocket upgrade (as `ws` does). */
function upgradeRequired(_request: http.IncomingMessage, response: http.ServerResponse): void {
  const body = http.STATUS_CODES[426] ?? 'Upgrade Required';
  response.writeHead(426, { 'Content-Length': Buffer.byteLength(body), 'Content-Type': 'text/plain' });
  response.end(body);
}
