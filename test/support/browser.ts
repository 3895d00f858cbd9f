import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';

/** Debian's headless Chromium builds, in the order tried; `.ci/run` installs the first. */
const CHROMIUM_NAMES = ['chromium-headless-shell', 'chromium'];

/**
 * The Chromium to drive: $ADAMANT_CHROMIUM, else the first of CHROMIUM_NAMES on the PATH.
 * Throws with what to install when there is none: a browser test that cannot run must fail, not skip.
 */
export function findChromium(): string {
  const given = process.env.ADAMANT_CHROMIUM;
  if (given) {
    if (!existsSync(given)) throw new Error(`ADAMANT_CHROMIUM=${given}: no such file`);
    return given;
  }
  for (const name of CHROMIUM_NAMES) {
    try {
      return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
    } catch {
      // not on the PATH: try the next name
    }
  }
  throw new Error(
    `no Chromium found (looked for ${CHROMIUM_NAMES.join(', ')} on the PATH): install it with \`apt-get install -y chromium-headless-shell\` (as .ci/run does), or set ADAMANT_CHROMIUM to a Chromium executable`,
  );
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.json': 'application/json',
  '.bin': 'application/octet-stream',
};

export interface StaticServer {
  /** http://127.0.0.1:PORT, without a trailing slash. */
  origin: string;
  /** Paths requested so far, in order, with their status. */
  requests: string[];
  close: () => Promise<void>;
}

/**
 * Serves exactly the given files (URL path → file on disk, or page text for an .html path) on
 * 127.0.0.1 with a free port. Anything else is a 404, so nothing outside the map can be read.
 */
export async function serveFiles(routes: Record<string, string>): Promise<StaticServer> {
  const requests: string[] = [];
  const server: Server = createServer((req, res) => {
    const urlPath = new URL(req.url ?? '/', 'http://127.0.0.1').pathname;
    const route = routes[urlPath];
    requests.push(`${urlPath} ${route === undefined ? 404 : 200}`);
    if (route === undefined) {
      res.writeHead(404).end();
      return;
    }
    const type = CONTENT_TYPES[path.extname(urlPath)] ?? 'application/octet-stream';
    const body = urlPath.endsWith('.html') ? route : readFileSync(route);
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
