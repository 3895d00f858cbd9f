import http from 'node:http';
import net from 'node:net';
import { authProof, createCodec, PROTOCOL_VERSION, silentLog, type CoordinatorMessage, type Log, type WorkerJob } from '@adamant/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import type { ConnectionLimits } from './connectionLimits.js';
import { WorkerServer, type HttpRouteHandler, type ListenTarget, type WorkerSession } from './WorkerServer.js';

const job: WorkerJob = {
  layers: [{ type: 'dense', units: 1, activation: 'linear', useBias: true, inputShape: [1] }],
  loss: 'meanSquaredError',
  metrics: [],
  backend: 'cpu',
  seed: 0,
  inputShape: [1],
  paramCount: 2,
};
const codec = createCodec();

/** A log that keeps every line, to count them. */
function recordingLog() {
  const lines: { level: string; message: string; fields?: Record<string, unknown> }[] = [];
  const at = (level: string) => (message: string, fields?: Record<string, unknown>) => lines.push({ level, message, ...(fields ? { fields } : {}) });
  const log: Log = { debug: () => {}, info: at('info'), warn: at('warn'), error: at('error') };
  return { log, lines };
}

/** A WorkerServer on loopback whose handlers record what they hear. */
async function start(
  target: ListenTarget = { host: '127.0.0.1', port: 0 },
  options: { token?: string | undefined; log?: Log; limits?: Partial<ConnectionLimits>; routes?: HttpRouteHandler } = {},
) {
  const joined: WorkerSession[] = [];
  const left: string[] = [];
  const fatal: Error[] = [];
  const token = 'token' in options ? options.token : 'secret';
  const server = new WorkerServer({
    job,
    jobId: 'job-a',
    ...(token !== undefined ? { token } : {}),
    heartbeatMs: 60_000,
    maxPayload: 1 << 20,
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.routes ? { routes: options.routes } : {}),
    log: options.log ?? silentLog,
    handlers: {
      joined: (s) => joined.push(s),
      left: (_s, reason) => left.push(reason),
      chunk: () => {},
      fatal: (e) => fatal.push(e),
    },
  });
  const address = await server.listen(target);
  cleanups.push(() => server.close());
  return { server, address, joined, left, fatal };
}

/** A raw peer that collects what the coordinator says, the challenge first. */
async function connectPeer(url: string) {
  const socket = new WebSocket(url);
  const inbox: (CoordinatorMessage | { type: 'closed'; closed: number; reason: string })[] = [];
  const arrived: (() => void)[] = [];
  const wake = () => {
    for (const w of arrived.splice(0)) w();
  };
  socket.on('message', (data: Buffer) => {
    inbox.push(codec.decodeCoordinatorMessage(data, 'coordinator'));
    wake();
  });
  socket.on('close', (code, reason) => {
    inbox.push({ type: 'closed', closed: code, reason: reason.toString() });
    wake();
  });
  cleanups.push(() => socket.terminate());
  await new Promise((r) => socket.once('open', r));
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((r) => arrived.push(r));
    return inbox.shift()!;
  };
  const challenge = await next();
  if (challenge.type !== 'challenge') throw new Error(`expected a challenge, got ${JSON.stringify(challenge)}`);
  return { socket, next, nonce: challenge.nonce };
}

/** A raw worker: answers the challenge with the proof of `token` (none: no proof). */
async function peer(url: string, token: string | undefined, jobId?: string) {
  const connected = await connectPeer(url);
  const proof = token === undefined ? {} : { proof: authProof(token, connected.nonce) };
  connected.socket.send(codec.encode({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'test', ...proof, ...(jobId ? { jobId } : {}) }));
  return connected;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanups.reverse()) await f();
  cleanups = [];
});

describe('WorkerServer', () => {
  it('handshakes a worker and reports it ready', async () => {
    const { address, joined } = await start();
    expect(address.url).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    const worker = await peer(address.url, 'secret');
    const welcome = await worker.next();
    expect(welcome).toMatchObject({ type: 'welcome', protocol: PROTOCOL_VERSION, job, jobId: 'job-a' });
    worker.socket.send(codec.encode({ type: 'ready', backend: 'cpu' }));
    await expect.poll(() => joined.length).toBe(1);
    expect(joined[0]!.backend).toBe('cpu');
    // On the fused path the GEMM engine and its build are part of the worker's backend identity.
    const fused = await peer(address.url, 'secret');
    expect((await fused.next()).type).toBe('welcome');
    fused.socket.send(codec.encode({ type: 'ready', backend: 'wasm', gemm: 'openblas', gemmBuild: '0.3.21 Haswell' }));
    await expect.poll(() => joined.length).toBe(2);
    expect(joined[1]!.backend).toBe('wasm+openblas 0.3.21 Haswell');
  });

  it('rejects a wrong token, or none, with E_AUTH and reports the session gone', async () => {
    const { address, left, joined } = await start();
    const worker = await peer(address.url, 'guess');
    expect(await worker.next()).toMatchObject({ type: 'reject', code: 'E_AUTH', message: expect.stringMatching(/presented a wrong token/) });
    const anonymous = await peer(address.url, undefined);
    expect(await anonymous.next()).toMatchObject({ type: 'reject', code: 'E_AUTH', message: expect.stringMatching(/presented no token/) });
    await expect.poll(() => left).toEqual(['E_AUTH', 'E_AUTH']);
    expect(joined).toEqual([]);
  });

  it('refuses a proof made for another connection\'s nonce', async () => {
    const { address } = await start();
    const first = await connectPeer(address.url);
    const second = await connectPeer(address.url);
    second.socket.send(codec.encode({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'replay', proof: authProof('secret', first.nonce) }));
    expect(await second.next()).toMatchObject({ type: 'reject', code: 'E_AUTH' });
  });

  it('without a token accepts any proof, or none', async () => {
    const { address } = await start(undefined, { token: undefined });
    expect((await (await peer(address.url, undefined)).next()).type).toBe('welcome');
    expect((await (await peer(address.url, 'anything')).next()).type).toBe('welcome');
  });

  it('logs failed authentications once per address however many there are, counting the rest', async () => {
    const { log, lines } = recordingLog();
    const { address } = await start(undefined, { log });
    for (let i = 0; i < 20; i++) expect(await (await peer(address.url, `guess-${i}`)).next()).toMatchObject({ code: 'E_AUTH' });
    expect(lines.filter((l) => l.message === 'worker failed authentication')).toHaveLength(1);
  });

  it('welcomes a reconnecting worker of the same job, and refuses one of another job with E_JOB', async () => {
    const { address } = await start();
    const same = await peer(address.url, 'secret', 'job-a');
    expect((await same.next()).type).toBe('welcome');
    const other = await peer(address.url, 'secret', 'job-b');
    expect(await other.next()).toMatchObject({ type: 'reject', code: 'E_JOB', message: expect.stringMatching(/served job job-b, this coordinator runs job job-a/) });
  });

  it('survives a close reason too long for a close frame: a failed message of 100 x "€", before and after its hello', async () => {
    const { address, left, fatal, joined } = await start();
    const stranger = await connectPeer(address.url);
    stranger.socket.send(codec.encode({ type: 'failed', code: '€'.repeat(100), message: 'x' }));
    expect(await stranger.next()).toMatchObject({ type: 'reject', code: 'E_PROTOCOL' });
    const worker = await peer(address.url, 'secret');
    expect((await worker.next()).type).toBe('welcome');
    worker.socket.send(codec.encode({ type: 'ready', backend: 'cpu' }));
    await expect.poll(() => joined.length).toBe(1);
    worker.socket.send(codec.encode({ type: 'failed', code: '€'.repeat(100), message: 'm\n\u001b[2J' }));
    const closed = (await worker.next()) as { closed: number; reason: string };
    expect(closed.closed).toBe(1000);
    expect(Buffer.byteLength(closed.reason)).toBeLessThanOrEqual(123);
    await expect.poll(() => left.length).toBe(2);
    expect(fatal).toEqual([]);
    // And it still serves.
    expect((await (await peer(address.url, 'secret')).next()).type).toBe('welcome');
  });

  it('ignores whatever a peer sends after it was rejected: one log line, one departure', async () => {
    const { log, lines } = recordingLog();
    const { address, left } = await start(undefined, { log });
    const flooder = await peer(address.url, 'guess');
    for (let i = 0; i < 500; i++) flooder.socket.send(codec.encode({ type: 'hello', protocol: PROTOCOL_VERSION, name: `n${i}`.repeat(20) }));
    expect(await flooder.next()).toMatchObject({ type: 'reject' });
    await sleep(200);
    expect(left).toEqual(['E_AUTH']);
    expect(lines).toHaveLength(1);
  });

  it('names a worker by its hello once, escaped and bounded', async () => {
    const { log, lines } = recordingLog();
    const { address, joined } = await start(undefined, { log });
    const worker = await connectPeer(address.url);
    const name = `evil\n12:00:00 INFO  worker joined\u001b[31m${'x'.repeat(200)}`;
    worker.socket.send(codec.encode({ type: 'hello', protocol: PROTOCOL_VERSION, name, proof: authProof('secret', worker.nonce) }));
    expect((await worker.next()).type).toBe('welcome');
    worker.socket.send(codec.encode({ type: 'ready', backend: 'cpu' }));
    await expect.poll(() => joined.length).toBe(1);
    expect(joined[0]!.name).toMatch(/^evil\\x0a12:00:00 INFO {2}worker joined\\x1b\[31mx+… \(127\.0\.0\.1:\d+\)$/);
    expect(JSON.stringify(lines)).not.toMatch(/\\n12|\\u001b/);
  });

  it('drops a session that sends no hello in time', async () => {
    const { address, left } = await start(undefined, { limits: { handshakeTimeoutMs: 200 } });
    const silent = await connectPeer(address.url);
    expect(await silent.next()).toMatchObject({ type: 'reject', code: 'E_PROTOCOL', message: expect.stringMatching(/no hello within 0 s/) });
    await expect.poll(() => left).toEqual(['E_PROTOCOL']);
  });

  it('closes a TCP connection that does not ask for a WebSocket in time', async () => {
    const { address } = await start(undefined, { limits: { upgradeTimeoutMs: 300 } });
    const started = performance.now();
    const idle = net.connect(address.port, '127.0.0.1');
    cleanups.push(() => idle.destroy());
    await new Promise((r) => idle.once('close', r));
    expect(performance.now() - started).toBeLessThan(2000);
  });

  it('refuses connections beyond maxConnections and upgrades beyond maxHandshakes, and serves again once they close', async () => {
    const { address } = await start(undefined, { limits: { maxConnections: 3, maxHandshakes: 2 } });
    const a = await connectPeer(address.url);
    await connectPeer(address.url);
    // A third upgrade while two sessions are in their handshake: 503.
    const third = new WebSocket(address.url);
    third.on('error', () => {});
    expect(await new Promise((r) => third.once('unexpected-response', (_req, res) => r(res.statusCode)))).toBe(503);
    const held = net.connect(address.port, '127.0.0.1');
    cleanups.push(() => held.destroy());
    await new Promise((r) => held.once('connect', r));
    // Three TCP connections are open now: a fourth is closed at once.
    const fourth = net.connect(address.port, '127.0.0.1');
    cleanups.push(() => fourth.destroy());
    await new Promise((r) => fourth.once('close', r));
    a.socket.terminate();
    held.destroy();
    await sleep(100);
    expect((await (await peer(address.url, 'secret')).next()).type).toBe('welcome');
  });

  it('drops a worker that does not read what it is sent', async () => {
    const { server, address, joined, left } = await start(undefined, { limits: { maxBufferedBytes: 1 << 20 } });
    const worker = await peer(address.url, 'secret');
    expect((await worker.next()).type).toBe('welcome');
    worker.socket.send(codec.encode({ type: 'ready', backend: 'cpu' }));
    await expect.poll(() => joined.length).toBe(1);
    (worker.socket as unknown as { _socket: net.Socket })._socket.pause();
    const weights = new Uint8Array(1 << 20);
    for (let step = 0; step < 64 && left.length === 0; step++) {
      server.send(joined[0]!, { type: 'step', step, weights, chunks: [] });
      await sleep(5);
    }
    await expect.poll(() => left).toEqual([expect.stringMatching(/^too slow to read \(\d+ bytes unsent\)$/)]);
  });

  it('answers plain HTTP on its own port with 426 without routes, and through its routes with them; upgrades go on as before', async () => {
    const { address } = await start();
    const response = await fetch(`http://127.0.0.1:${address.port}/`);
    expect(response.status).toBe(426);
    const asked: string[] = [];
    const routes: HttpRouteHandler = (request, reply) => {
      asked.push(`${request.method} ${request.url}`);
      reply.writeHead(request.url === '/healthz' ? 200 : 404).end();
    };
    const routed = await start(undefined, { routes });
    expect((await fetch(`http://127.0.0.1:${routed.address.port}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${routed.address.port}/`)).status).toBe(404);
    expect(asked).toEqual(['GET /healthz', 'GET /']);
    const worker = await peer(`${routed.address.url}/healthz`, 'secret');
    expect((await worker.next()).type).toBe('welcome');
    expect(asked).toHaveLength(2);
  });

  it('shares an existing http server: its routes keep working beside the workers', async () => {
    const http1 = http.createServer((request, response) => {
      response.writeHead(request.url === '/health' ? 200 : 404);
      response.end(request.url === '/health' ? 'ok' : '');
    });
    cleanups.push(() => {
      http1.closeAllConnections();
      return new Promise((r) => http1.close(r));
    });
    const routes: HttpRouteHandler = () => {
      throw new Error('a server handed in with a request listener of its own keeps answering plain HTTP itself');
    };
    const { address, joined } = await start({ server: http1, host: '127.0.0.1', port: 0 }, { routes });
    const health = await fetch(`http://127.0.0.1:${address.port}/health`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    const worker = await peer(address.url, 'secret');
    expect((await worker.next()).type).toBe('welcome');
    worker.socket.send(codec.encode({ type: 'ready', backend: 'wasm' }));
    await expect.poll(() => joined.length).toBe(1);
  });
});
