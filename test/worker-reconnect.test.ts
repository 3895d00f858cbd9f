import type { AddressInfo } from 'node:net';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { afterEach, describe, expect, it } from 'vitest';
import { createCodec, floatBytes, NONCE_BYTES, PROTOCOL_VERSION, readFloats, type CoordinatorMessage, type WorkerJob, type WorkerMessage } from '@adamant/core';
import { runCli } from './support/cli.js';

/**
 * Issue 8: a worker that loses its coordinator mid-job reconnects to the same address and
 * presents the job it served, so that only that job takes it back; it gives up after
 * --reconnect-timeout. The coordinator here is a minimal fake on a raw WebSocketServer, which
 * challenges each connection, scripts it, and records every hello (it checks no proof).
 */

// One dense unit on two inputs: kernel [1, 2] and bias 3 are the three parameters.
const job: WorkerJob = {
  layers: [{ type: 'dense', units: 1, activation: 'linear', useBias: true, inputShape: [2] }],
  loss: 'meanSquaredError',
  metrics: [],
  backend: 'cpu',
  seed: 0,
  inputShape: [2],
  paramCount: 3,
};

type Hello = Extract<WorkerMessage, { type: 'hello' }>;

/** What the fake does with the n-th connection (0 first), once it has read its hello. */
type Script = (peer: FakePeer, hello: Hello, n: number) => void | Promise<void>;

interface FakePeer {
  send(message: CoordinatorMessage): void;
  /** The next message from the worker (after the hello). */
  next(): Promise<WorkerMessage>;
  socket: WebSocket;
}

const codec = createCodec();
const welcome = (jobId: string, workerId: number, heartbeatMs = 60_000): CoordinatorMessage => ({ type: 'welcome', protocol: PROTOCOL_VERSION, workerId, job, heartbeatMs, jobId });

async function fakeCoordinator(script: Script) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  const hellos: Hello[] = [];
  /** When each hello arrived (performance.now()), to time a rejoin. */
  const helloTimes: number[] = [];
  let connections = 0;
  server.on('connection', (socket) => {
    const n = connections++;
    socket.send(codec.encode({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: new Uint8Array(NONCE_BYTES) }));
    const inbox: WorkerMessage[] = [];
    const waiting: ((m: WorkerMessage) => void)[] = [];
    let peer: FakePeer | undefined;
    socket.on('message', (data: Buffer) => {
      const message = codec.decodeWorkerMessage(data, 'worker');
      if (!peer && message.type === 'hello') {
        hellos.push(message);
        helloTimes.push(performance.now());
        peer = {
          socket,
          send: (m) => socket.send(codec.encode(m)),
          next: () => new Promise((resolve) => (inbox.length ? resolve(inbox.shift()!) : waiting.push(resolve))),
        };
        void script(peer, message, n);
        return;
      }
      const taker = waiting.shift();
      if (taker) taker(message);
      else inbox.push(message);
    });
  });
  const url = `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const close = () =>
    new Promise<void>((resolve) => {
      for (const client of server.clients) client.terminate();
      server.close(() => resolve());
    });
  return { url, hellos, helloTimes, close };
}

/** Welcomes the worker and waits for its ready. */
async function join(peer: FakePeer, jobId: string, n: number, heartbeatMs?: number): Promise<void> {
  peer.send(welcome(jobId, n + 1, heartbeatMs));
  expect((await peer.next()).type).toBe('ready');
}

/** One step of one chunk whose gradient sum is known exactly: rows [1, 0] and [0, 1], targets 4 and 4. */
async function stepAndDone(peer: FakePeer): Promise<void> {
  peer.send({
    type: 'step',
    step: 0,
    weights: floatBytes(Float32Array.of(1, 2, 3)),
    chunks: [{ index: 0, samples: 2, seed: 1, x: floatBytes(Float32Array.of(1, 0, 0, 1)), y: floatBytes(Float32Array.of(4, 4)) }],
  });
  const chunk = await peer.next();
  if (chunk.type !== 'chunk') throw new Error(`expected a chunk, got ${chunk.type}`);
  // Predictions 4 and 5: squared errors 0 and 1; d/d(kernel, bias) of their sum is 2 x (0, 1) x [x, 1].
  expect(chunk.lossSum).toBe(1);
  expect(Array.from(readFloats(chunk.grads!, 3, 'grads', 'worker'))).toEqual([0, 2, 2]);
  peer.send({ type: 'done' });
}

const worker = (url: string, ...extra: string[]) => runCli(['worker', '--connect', url, ...extra], { env: { ADAMANT_TOKEN: '' }, timeoutMs: 30_000 });

describe('a worker that loses its coordinator', () => {
  let fakes: { close: () => Promise<void> }[] = [];
  const start = async (script: Script) => {
    const fake = await fakeCoordinator(script);
    fakes.push(fake);
    return fake;
  };
  afterEach(async () => {
    await Promise.all(fakes.map((f) => f.close()));
    fakes = [];
  });

  for (const loss of ['closes the connection', 'stops (a checkpoint is saved)'] as const) {
    it(`reconnects when the coordinator ${loss}, presents its job, and finishes it with the same compute thread`, async () => {
      let lostAt = 0;
      const fake = await start(async (peer, _hello, n) => {
        await join(peer, 'job-a', n);
        if (n > 0) return stepAndDone(peer);
        lostAt = performance.now();
        if (loss === 'closes the connection') peer.socket.close(1001, 'going away');
        else peer.send({ type: 'stop', reason: 'SIGTERM' });
      });
      const result = await worker(fake.url);
      expect(result.code, result.stderr).toBe(0);
      expect(fake.hellos.map((h) => h.jobId)).toEqual([undefined, 'job-a']);
      // It rejoins at once, not after a long back-off: timed from the loss, so the worker's start-up and model build do not count.
      expect(fake.helloTimes[1]! - lostAt).toBeLessThan(5000);
      expect(result.stderr).toMatch(/WARN\s+lost the coordinator \(.*(going away|coordinator stopped: SIGTERM).*\); trying to rejoin job job-a for up to 300 s/);
      expect(result.stderr).toMatch(/INFO\s+rejoined workerId=2 jobId=job-a reconnects=1/);
      // Joined once: the model and its thread were kept, not rebuilt.
      expect(result.stderr.match(/INFO\s+joined /g)).toHaveLength(1);
      expect(result.stderr).toMatch(/training finished workerId=2 .*steps=1 chunks=1 samples=2 reconnects=1/);
    });
  }

  it('a stop that arrives while a chunk computes, right before the close, still says why: the worker exits 0 naming it', async () => {
    const fake = await start(async (peer, _hello, n) => {
      await join(peer, 'job-a', n);
      peer.send({
        type: 'step',
        step: 0,
        weights: floatBytes(Float32Array.of(1, 2, 3)),
        chunks: [{ index: 0, samples: 2, seed: 1, x: floatBytes(Float32Array.of(1, 0, 0, 1)), y: floatBytes(Float32Array.of(4, 4)) }],
      });
      // The chunk takes 1 s (ADAMANT_SLOW_CHUNK_MS): the stop and the close both come during it.
      await new Promise((resolve) => setTimeout(resolve, 200));
      peer.send({ type: 'stop', reason: 'numeric error (E_NUMERIC); see the coordinator' });
      peer.socket.close(1001, 'coordinator shutting down');
    });
    const result = await runCli(['worker', '--connect', fake.url, '--reconnect-timeout', '0'], { env: { ADAMANT_TOKEN: '', ADAMANT_SLOW_CHUNK_MS: '1000' }, timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/coordinator stopped: numeric error \(E_NUMERIC\); see the coordinator/);
    expect(result.stderr).not.toMatch(/closed the connection before training finished/);
  });

  it('exits with E_JOB when the coordinator at that address now runs another job', async () => {
    const fake = await start(async (peer, hello, n) => {
      if (n === 0) {
        await join(peer, 'job-a', n);
        return peer.socket.close(1001, 'going away');
      }
      peer.send({ type: 'reject', code: 'E_JOB', message: `worker ${hello.name} served job ${hello.jobId}, this coordinator runs job job-b` });
      peer.socket.close(1008, 'E_JOB');
    });
    const result = await worker(fake.url);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/adamant: coordinator ws:\/\/\S+ refused this worker: worker \S+ served job job-a, this coordinator runs job job-b \[E_JOB\]/);
    expect(fake.hellos).toHaveLength(2);
  });

  it('exits with E_JOB when it is welcomed to another job (belt and braces)', async () => {
    const fake = await start(async (peer, _hello, n) => {
      if (n === 0) {
        await join(peer, 'job-a', n);
        return peer.socket.close(1001, 'going away');
      }
      peer.send(welcome('job-b', n + 1));
    });
    const result = await worker(fake.url);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/adamant: coordinator ws:\/\/\S+ runs job job-b, but this worker served job job-a \[E_JOB\]/);
  });

  it('gives up with E_CONNECT once --reconnect-timeout has run out', async () => {
    let lostAt = 0;
    const fake = await start(async (peer, _hello, n) => {
      await join(peer, 'job-a', n);
      lostAt = performance.now();
      // The coordinator goes away altogether: nothing listens at the address any more.
      void fake.close();
    });
    const result = await worker(fake.url, '--reconnect-timeout', '1');
    const took = performance.now() - lostAt;
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/adamant: lost coordinator ws:\/\/\S+ and could not rejoin it: tried to reconnect for 1\.\d s \(\d+ attempts; last: connection refused\) \[E_CONNECT\]/);
    expect(result.stderr).toMatch(/INFO\s+reconnecting to the coordinator /);
    expect(took).toBeLessThan(3000);
  });

  it('with --reconnect-timeout 0, exits 0 on stop and fails at once on a lost connection', async () => {
    const stopping = await start(async (peer, _hello, n) => {
      await join(peer, 'job-a', n);
      peer.send({ type: 'stop', reason: 'SIGINT' });
    });
    const stopped = await worker(stopping.url, '--reconnect-timeout', '0');
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(stopped.stderr).toMatch(/INFO\s+coordinator stopped: SIGINT/);
    expect(stopping.hellos).toHaveLength(1);

    const closing = await start(async (peer, _hello, n) => {
      await join(peer, 'job-a', n);
      peer.socket.close(1001, 'going away');
    });
    const lost = await worker(closing.url, '--reconnect-timeout', '0');
    expect(lost.code).toBe(1);
    expect(lost.stderr).toMatch(/adamant: coordinator ws:\/\/\S+ closed the connection before training finished \(going away\) \[E_CONNECT\]/);
    expect(closing.hellos).toHaveLength(1);
  });

  it('takes a heartbeat beyond what a timer holds (2^31 ms and more) without presuming the coordinator gone', async () => {
    const fake = await start(async (peer, _hello, n) => {
      await join(peer, 'job-a', n, 2 ** 32);
      // Unclamped, Node would fire the silence timer after 1 ms.
      await new Promise((r) => setTimeout(r, 300));
      await stepAndDone(peer);
    });
    const result = await worker(fake.url, '--reconnect-timeout', '0');
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toMatch(/TimeoutOverflowWarning/);
  });
});
