import http from 'node:http';
import { createCodec, PROTOCOL_VERSION, silentLog, type CoordinatorMessage, type WorkerJob } from '@adamant/core';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { WorkerServer, type ListenTarget, type WorkerSession } from './WorkerServer.js';

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

/** A WorkerServer on loopback whose handlers record what they hear. */
async function start(target: ListenTarget = { host: '127.0.0.1', port: 0 }) {
  const joined: WorkerSession[] = [];
  const left: string[] = [];
  const server = new WorkerServer({
    job,
    jobId: 'job-a',
    token: 'secret',
    heartbeatMs: 60_000,
    maxPayload: 1 << 20,
    log: silentLog,
    handlers: {
      joined: (s) => joined.push(s),
      left: (_s, reason) => left.push(reason),
      chunk: () => {},
      fatal: (e) => {
        throw e;
      },
    },
  });
  const address = await server.listen(target);
  cleanups.push(() => server.close());
  return { server, address, joined, left };
}

/** A raw worker: connects, sends hello with `token`, and collects what the coordinator says. */
async function peer(url: string, token: string, jobId?: string) {
  const socket = new WebSocket(url);
  const inbox: CoordinatorMessage[] = [];
  const arrived: (() => void)[] = [];
  socket.on('message', (data: Buffer) => {
    inbox.push(codec.decodeCoordinatorMessage(data, 'coordinator'));
    for (const wake of arrived.splice(0)) wake();
  });
  await new Promise((r) => socket.once('open', r));
  socket.send(codec.encode({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'test', token, ...(jobId ? { jobId } : {}) }));
  const next = async () => {
    while (inbox.length === 0) await new Promise<void>((r) => arrived.push(r));
    return inbox.shift()!;
  };
  cleanups.push(() => socket.terminate());
  return { socket, next };
}

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
  });

  it('rejects a wrong token with E_AUTH and reports the session gone', async () => {
    const { address, left, joined } = await start();
    const worker = await peer(address.url, 'guess');
    expect(await worker.next()).toMatchObject({ type: 'reject', code: 'E_AUTH' });
    await expect.poll(() => left).toEqual(['E_AUTH']);
    expect(joined).toEqual([]);
  });

  it('welcomes a reconnecting worker of the same job, and refuses one of another job with E_JOB', async () => {
    const { address } = await start();
    const same = await peer(address.url, 'secret', 'job-a');
    expect((await same.next()).type).toBe('welcome');
    const other = await peer(address.url, 'secret', 'job-b');
    expect(await other.next()).toMatchObject({ type: 'reject', code: 'E_JOB', message: expect.stringMatching(/served job job-b, this coordinator runs job job-a/) });
  });

  it('answers plain HTTP on its own port with 426', async () => {
    const { address } = await start();
    const response = await fetch(`http://127.0.0.1:${address.port}/`);
    expect(response.status).toBe(426);
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
    const { address, joined } = await start({ server: http1, host: '127.0.0.1', port: 0 });
    const health = await fetch(`http://127.0.0.1:${address.port}/health`);
    expect([health.status, await health.text()]).toEqual([200, 'ok']);
    const worker = await peer(address.url, 'secret');
    expect((await worker.next()).type).toBe('welcome');
    worker.socket.send(codec.encode({ type: 'ready', backend: 'wasm' }));
    await expect.poll(() => joined.length).toBe(1);
  });
});
