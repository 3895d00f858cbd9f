import http from 'node:http';
import net from 'node:net';
import { createCodec, parseJobConfig, silentLog, type CoordinatorMessage, type WorkerJob } from '@adamant/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ConnectionLimits } from '../connectionLimits.js';
import { WorkerServer } from '../WorkerServer.js';
import { MonitorRoutes } from './MonitorRoutes.js';
import { RunMonitor } from './RunMonitor.js';

const config = parseJobConfig(
  { model: [{ type: 'dense', units: 1 }], loss: 'meanSquaredError', metrics: [], batchSize: 8, epochs: 1, data: { path: 'x.csv', features: ['a'], target: 'b' } },
  'job.json',
);
const job: WorkerJob = { layers: config.model, loss: 'meanSquaredError', metrics: [], backend: 'cpu', seed: 0, inputShape: [1], paramCount: 2 };
const codec = createCodec();

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.reverse()) await f();
  cleanups = [];
});

/** A worker server on loopback whose plain HTTP goes to a run monitor's routes (as the coordinator wires them). */
async function start(options: { dashboard?: boolean; metrics?: boolean; limits?: Partial<ConnectionLimits>; maxClients?: number } = {}) {
  const run = new RunMonitor({ config, jobId: 'job-a', minWorkers: 1, dashboard: options.dashboard ?? true, metrics: options.metrics ?? true, quarantined: () => [], lastCheckpoint: () => undefined });
  const routes = new MonitorRoutes(run, {
    dashboard: options.dashboard ?? true,
    ...(run.metrics ? { metrics: run.metrics } : {}),
    streamLimits: { maxClients: options.maxClients ?? 2, flushEveryMs: 50, maxUnsentBytes: 1 << 20 },
  });
  const server = new WorkerServer({
    job,
    jobId: 'job-a',
    heartbeatMs: 60_000,
    maxPayload: 1 << 20,
    log: silentLog,
    observer: run,
    routes: routes.handle,
    ...(options.limits ? { limits: options.limits } : {}),
    handlers: { joined: () => {}, left: () => {}, chunk: () => {}, fatal: () => {} },
  });
  const address = await server.listen({ host: '127.0.0.1', port: 0 });
  cleanups.push(() => server.close());
  return { run, server, address, origin: `http://127.0.0.1:${address.port}` };
}

/** A WebSocket to `url` that resolves with the coordinator's first message (the challenge). */
async function firstMessage(url: string): Promise<CoordinatorMessage> {
  const socket = new WebSocket(url);
  cleanups.push(() => socket.terminate());
  return new Promise((resolve, reject) => {
    socket.once('message', (data: Buffer) => resolve(codec.decodeCoordinatorMessage(data, 'coordinator')));
    socket.once('error', reject);
  });
}

/** Reads an event stream until `enough` holds for what arrived, or fails after `timeoutMs`. */
function readEvents(url: string, enough: (text: string) => boolean, timeoutMs = 5000): Promise<{ status: number; text: string; response: http.IncomingMessage }> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, (response) => {
      let text = '';
      if (response.statusCode !== 200) {
        response.resume();
        return resolve({ status: response.statusCode ?? 0, text, response });
      }
      const timer = setTimeout(() => reject(new Error(`the stream sent only:\n${text.slice(0, 500)}`)), timeoutMs);
      response.on('data', (d: Buffer) => {
        text += d.toString();
        if (enough(text)) {
          clearTimeout(timer);
          resolve({ status: 200, text, response });
        }
      });
      response.on('close', () => reject(new Error(`the stream closed after:\n${text.slice(0, 500)}`)));
    });
    request.on('error', reject);
    cleanups.push(() => request.destroy());
  });
}

describe('MonitorRoutes on the worker server\'s port', () => {
  it('answers /healthz, /readyz (503 with the reason until a worker is ready) and /metrics; 404 and 405 elsewhere', async () => {
    const { origin, run } = await start();
    const health = await fetch(`${origin}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const waiting = await fetch(`${origin}/readyz`);
    expect(waiting.status).toBe(503);
    expect(await waiting.json()).toMatchObject({ ready: false, reason: 'waiting for workers: 0 of 1 ready' });
    const session = { id: 1, name: 'w:1 (127.0.0.1:1)', socket: {} as WebSocket, state: 'ready' as const, backend: 'cpu', heardAt: performance.now() };
    run.joined(session, '127.0.0.1:1');
    run.ready(session);
    expect((await fetch(`${origin}/readyz`)).status).toBe(200);
    const metrics = await fetch(`${origin}/metrics?x=1`);
    expect(metrics.status).toBe(200);
    expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await metrics.text()).toMatch(/^adamant_workers\{state="ready"\} 1$/m);
    const missing = await fetch(`${origin}/nothing-here`);
    expect(missing.status).toBe(404);
    expect(await missing.text()).toMatch(/this port serves \/metrics, \/healthz, \/readyz, \/ \(the dashboard\) and WebSocket workers/);
    const post = await fetch(`${origin}/metrics`, { method: 'POST', body: 'x' });
    expect([post.status, post.headers.get('allow')]).toEqual([405, 'GET, HEAD']);
    const head = await fetch(`${origin}/healthz`, { method: 'HEAD' });
    expect([head.status, await head.text()]).toEqual([200, '']);
  });

  it('serves the page and its files from the package only with the dashboard, and /metrics only when on', async () => {
    const off = await start({ dashboard: false, metrics: false });
    const page = await fetch(`${off.origin}/`);
    expect(page.status).toBe(404);
    expect(await page.text()).toMatch(/the dashboard needs --dashboard/);
    expect((await fetch(`${off.origin}/uPlot.iife.min.js`)).status).toBe(404);
    expect((await fetch(`${off.origin}/events`)).status).toBe(404);
    expect((await fetch(`${off.origin}/metrics`)).status).toBe(404);

    const on = await start({ dashboard: true });
    const html = await fetch(`${on.origin}/`);
    expect(html.status).toBe(200);
    expect(html.headers.get('content-type')).toBe('text/html; charset=utf-8');
    expect(html.headers.get('content-security-policy')).toMatch(/default-src 'self'/);
    const text = await html.text();
    for (const file of ['/uPlot.iife.min.js', '/uPlot.min.css', '/dashboard.js', '/dashboard.css']) {
      expect(text).toContain(file);
      const asset = await fetch(`${on.origin}${file}`);
      expect(asset.status, file).toBe(200);
      expect((await asset.arrayBuffer()).byteLength, file).toBeGreaterThan(500);
    }
    expect((await fetch(`${on.origin}/../package.json`)).status).toBe(404);
    expect((await fetch(`${on.origin}/dashboard.js/../../package.json`)).status).toBe(404);
  });

  it('still takes WebSocket upgrades on any path', async () => {
    const { address } = await start();
    expect((await firstMessage(address.url)).type).toBe('challenge');
    expect((await firstMessage(`${address.url}/metrics`)).type).toBe('challenge');
    expect((await firstMessage(`${address.url}/events`)).type).toBe('challenge');
  });

  it('never reads a request body: a huge POST is answered 405 and its connection closed, and workers still get in', async () => {
    const { address } = await start();
    const socket = net.connect(address.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    await new Promise((r) => socket.once('connect', r));
    let answer = '';
    socket.on('data', (d: Buffer) => (answer += d.toString()));
    socket.on('error', () => {});
    const closed = new Promise((r) => socket.once('close', r));
    socket.write(`POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: ${2 ** 40}\r\n\r\n`);
    const megabyte = Buffer.alloc(1 << 20, 120);
    for (let i = 0; i < 8 && !socket.destroyed; i++) socket.write(megabyte);
    await closed;
    expect(answer).toMatch(/^HTTP\/1\.1 405 /);
    expect((await firstMessage(address.url)).type).toBe('challenge');
  });

  it('closes a connection that trickles its request instead of waiting for it', async () => {
    const { address } = await start({ limits: { upgradeTimeoutMs: 300 } });
    const started = performance.now();
    const socket = net.connect(address.port, '127.0.0.1');
    cleanups.push(() => socket.destroy());
    socket.on('error', () => {});
    socket.write('GET /metrics HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => socket.once('close', r));
    expect(performance.now() - started).toBeLessThan(3000);
  });

  it('streams a snapshot then deltas past the upgrade deadline, to a bounded number of dashboards', async () => {
    const { origin, run } = await start({ limits: { upgradeTimeoutMs: 300 }, maxClients: 1 });
    const opened = performance.now();
    const first = await readEvents(`${origin}/events`, (text) => (text.match(/event: delta/g) ?? []).length >= 2);
    expect(first.response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    const snapshot = JSON.parse(/event: snapshot\ndata: (.*)\n/.exec(first.text)![1]!);
    expect(snapshot.job).toMatchObject({ jobId: 'job-a', stepColumns: ['step', 'loss', 'epoch_loss'] });
    expect(JSON.stringify(snapshot)).not.toMatch(/token/i);
    // The second dashboard is one too many.
    expect((await readEvents(`${origin}/events`, () => true)).status).toBe(503);
    // New steps arrive in a delta; the stream is still open well after the guard's deadline for plain connections.
    run.step({ epoch: 0, batch: 0, batches: 1, step: 1, samples: 8, loss: 0.75, epochLoss: 0.75, epochMetrics: {}, stepMs: 5 });
    const more = await new Promise<string>((resolve) => {
      let text = '';
      first.response.on('data', (d: Buffer) => {
        text += d.toString();
        if (/"steps":\[\[1,0\.75,0\.75\]\]/.test(text)) resolve(text);
      });
    });
    expect(more).toMatch(/event: delta/);
    await new Promise((r) => setTimeout(r, Math.max(0, 700 - (performance.now() - opened))));
    expect(first.response.destroyed).toBe(false);
    first.response.destroy();
    // Its place is free again.
    await expect.poll(async () => (await readEvents(`${origin}/events`, () => true)).status).toBe(200);
  });
});
