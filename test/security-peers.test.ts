import { randomBytes } from 'node:crypto';
import { chmodSync, writeFileSync } from 'node:fs';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import type WebSocket from 'ws';
import { WebSocketServer } from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createCodec, mulberry32, NONCE_BYTES, PROTOCOL_VERSION, type CoordinatorMessage, type WorkerJob } from '@adamant/core';
import { recordingProxy } from './support/capture.js';
import { housingJob, runCli, spawnCli, startCli, tempDir } from './support/cli.js';
import { helloMessage, rawPeer } from './support/rawPeer.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * Issue 9, the network side: whatever a peer sends costs at most its own connection. Each test
 * below pins one of the problems found by probing the coordinator and the worker as an attacker
 * would, on loopback against real processes; the training runs beside the attacks end with the
 * weights of an undisturbed run, to the byte.
 */
const tmp = tempDir('adamant-security-');
const token = randomBytes(24).toString('base64url');
const tokenFile = path.join(tmp.dir, 'token');
let baselineDir: string;
let configPath: string;
const stop: (() => void)[] = [];

beforeAll(async () => {
  writeFileSync(tokenFile, `${token}\n`);
  chmodSync(tokenFile, 0o600);
  configPath = housingJob(tmp.dir, { epochs: 2 });
  baselineDir = await sharedRun(configPath, ['--workers', '1']);
});
afterEach(() => {
  for (const f of stop.splice(0)) f();
});
afterAll(() => tmp.cleanup());

/** A coordinator on loopback with the token file; resolves once it listens. */
async function startCoordinator(out: string, extra: string[] = [], env?: NodeJS.ProcessEnv) {
  const started = await startCli(['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token-file', tokenFile, '--out', out, ...extra], /listening on 127\.0\.0\.1:(\d+)/, env);
  stop.push(() => started.child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => started.child.on('close', resolve));
  const port = Number(started.match[1]);
  return { port, url: `ws://127.0.0.1:${port}`, exited, output: started.output };
}

/** An honest worker that trains until the job is done. */
const honestWorker = (url: string, env?: NodeJS.ProcessEnv) => runCli(['worker', '--connect', url, '--token-file', tokenFile, '--reconnect-timeout', '0'], { env: { ADAMANT_TOKEN: '', ...env }, timeoutMs: 120_000 });

/** The coordinator finished with exit 0 and saved the weights of the undisturbed run. */
async function expectUndisturbed(coordinator: { exited: Promise<number | null>; output: () => string }, out: string): Promise<void> {
  expect(await coordinator.exited, coordinator.output().slice(-4000)).toBe(0);
  expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
}

/** Joins with the token as a raw peer, says ready, and waits for its first step. */
async function joinAndTakeAStep(url: string, name: string) {
  const peer = await rawPeer(url);
  peer.hello(token, name);
  expect(await peer.next()).toMatchObject({ type: 'welcome' });
  peer.send({ type: 'ready', backend: 'cpu' });
  expect(await peer.next()).toMatchObject({ type: 'step' });
  return peer;
}

describe('a peer cannot stop the job', () => {
  it('a "failed" frame whose code is 100 x "€" (a close reason over 123 bytes), before and after authentication', async () => {
    const out = path.join(tmp.dir, 'euro');
    const coordinator = await startCoordinator(out);
    const stranger = await rawPeer(coordinator.url);
    stranger.send({ type: 'failed', code: '€'.repeat(100), message: 'before its hello' });
    expect(await stranger.next()).toMatchObject({ type: 'reject', code: 'E_PROTOCOL' });
    const insider = await joinAndTakeAStep(coordinator.url, 'insider');
    insider.send({ type: 'failed', code: '€'.repeat(100), message: 'after its hello' });
    expect(await insider.next()).toMatchObject({ closed: 1000 });
    const worker = await honestWorker(coordinator.url);
    expect(worker.code, worker.stderr).toBe(0);
    await expectUndisturbed(coordinator, out);
  });

  it('2,000 hellos and random frames after a reject: ignored, and the log stays small', async () => {
    const out = path.join(tmp.dir, 'flood');
    const coordinator = await startCoordinator(out);
    const flooder = await rawPeer(coordinator.url);
    flooder.hello('not-the-token', 'flooder');
    const random = mulberry32(9);
    for (let i = 0; i < 1000; i++) {
      flooder.send(helloMessage(flooder.nonce, 'not-the-token', `flooder-${i}-`.repeat(8)));
      flooder.send(Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256)));
    }
    expect(await flooder.next()).toMatchObject({ type: 'reject', code: 'E_AUTH' });
    expect(await flooder.next()).toMatchObject({ closed: expect.any(Number) });
    const worker = await honestWorker(coordinator.url);
    expect(worker.code, worker.stderr).toBe(0);
    await expectUndisturbed(coordinator, out);
    expect(coordinator.output().length).toBeLessThan(200_000);
  });

  it('a name or message with a newline and ANSI escapes forges no log line', async () => {
    const out = path.join(tmp.dir, 'forged');
    const coordinator = await startCoordinator(out);
    const forged = '\n99:99:99 INFO  worker joined worker=forged\u001b[2J\u001b[31m';
    const guesser = await rawPeer(coordinator.url);
    guesser.hello('not-the-token', `guess${forged}`);
    expect(await guesser.next()).toMatchObject({ type: 'reject', code: 'E_AUTH' });
    const insider = await joinAndTakeAStep(coordinator.url, `insider${forged}`);
    insider.send({ type: 'failed', code: `E_X${forged}`, message: `gone${forged}` });
    expect(await insider.next()).toMatchObject({ closed: 1000 });
    const worker = await honestWorker(coordinator.url);
    expect(worker.code, worker.stderr).toBe(0);
    await expectUndisturbed(coordinator, out);
    const log = coordinator.output();
    expect(log).toContain('\\x0a99:99:99');
    expect(log.split('\n').filter((line) => line.startsWith('99:99:99'))).toEqual([]);
    expect(log).not.toContain('\u001b');
  });
});

describe('authentication', () => {
  it('the token never crosses the wire: a capture of a whole training run holds neither it nor its hex or base64', async () => {
    const out = path.join(tmp.dir, 'captured');
    const coordinator = await startCoordinator(out);
    const proxy = await recordingProxy(coordinator.port);
    stop.push(proxy.close);
    const worker = await honestWorker(`ws://127.0.0.1:${proxy.port}`);
    expect(worker.code, worker.stderr).toBe(0);
    await expectUndisturbed(coordinator, out);
    // What an observer reads: the coordinator's frames as they are, the worker's unmasked.
    const seen = Buffer.concat([proxy.toClient(), proxy.toServer(), proxy.clientPayloads()]);
    // It holds the handshake (and the whole run) ...
    for (const field of ['challenge', 'nonce', 'hello', 'proof', 'welcome', 'chunk']) expect(seen.includes(field), field).toBe(true);
    // ... but not the token in any spelling.
    const raw = Buffer.from(token, 'utf8');
    for (const form of [token, raw.toString('hex'), raw.toString('base64'), raw.toString('base64url')]) expect(seen.includes(form), form).toBe(false);
  });

  it('a wrong token gets E_AUTH, and 50 failed attempts from one address are logged once', async () => {
    const out = path.join(tmp.dir, 'wrong-token');
    const coordinator = await startCoordinator(out);
    const refused = await runCli(['worker', '--connect', coordinator.url, '--token', 'not-the-token', '--reconnect-timeout', '0']);
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toMatch(/^adamant: coordinator ws:\/\/127\.0\.0\.1:\d+ refused this worker: worker \S+ \(127\.0\.0\.1:\d+\) presented a wrong token \[E_AUTH\]$/m);
    for (let i = 0; i < 50; i++) {
      const guesser = await rawPeer(coordinator.url);
      guesser.hello(`guess-${i}`, 'guesser');
      expect(await guesser.next()).toMatchObject({ type: 'reject', code: 'E_AUTH' });
    }
    expect(coordinator.output().match(/failed authentication/g)).toHaveLength(1);
  });

  it('a coordinator on a non-loopback address refuses to start without a token unless --insecure', async () => {
    const env = { ADAMANT_TOKEN: '' };
    // Two processes of their own, side by side.
    const [refused, insecure] = await Promise.all([
      runCli(['coordinator', configPath, '--port', '0', '--host', '0.0.0.0'], { env }),
      startCli(['coordinator', configPath, '--port', '0', '--host', '0.0.0.0', '--insecure'], /listening on 0\.0\.0\.0:(\d+).*\n\s+ADAMANT_TOKEN=[0-9a-f]{32} adamant worker/, env),
    ]);
    insecure.child.kill('SIGKILL');
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim().split('\n')).toEqual([expect.stringMatching(/^adamant: refusing to listen on 0\.0\.0\.0 without a token: .*--token-file.*--insecure.* \[E_CONFIG\]$/)]);
  });

  it('a token file: empty is refused naming it, readable by others is used with a warning, and the token is not printed', async () => {
    const empty = path.join(tmp.dir, 'empty-token');
    writeFileSync(empty, '\n');
    const open = path.join(tmp.dir, 'open-token');
    writeFileSync(open, 'open-secret\n');
    chmodSync(open, 0o644);
    // Two processes of their own, side by side.
    const [refused, started] = await Promise.all([
      runCli(['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token-file', empty]),
      startCli(['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token-file', open], /listening on 127\.0\.0\.1:(\d+)[^\n]*\n[^\n]*\n/),
    ]);
    stop.push(() => started.child.kill('SIGKILL'));
    expect(refused.code).toBe(1);
    expect(refused.stderr.trim()).toBe(`adamant: --token-file ${empty}: the file is empty; put the shared token in it [E_CONFIG]`);
    expect(started.output()).toMatch(new RegExp(`WARN\\s+--token-file ${open} can be read by other users \\(mode 644\\); chmod 600 it`));
    expect(started.output()).toMatch(new RegExp(`adamant worker --connect ws://127\\.0\\.0\\.1:\\d+ --token-file ${open}`));
    expect(started.output()).not.toContain('open-secret');
  });
});

/** A fake coordinator: `onConnection` scripts each connection (nothing: it stays silent). */
async function fakeCoordinator(onConnection: (socket: WebSocket) => void) {
  const server = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((resolve) => server.once('listening', resolve));
  server.on('connection', onConnection);
  stop.push(() => {
    for (const client of server.clients) client.terminate();
    server.close();
  });
  return `ws://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

describe('a worker facing a hostile coordinator', () => {
  it('gives up on a coordinator that accepts the connection and never says anything (E_CONNECT)', async () => {
    const url = await fakeCoordinator(() => {});
    const started = performance.now();
    const result = await runCli(['worker', '--connect', url, '--reconnect-timeout', '0', '--handshake-timeout', '2'], { timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^adamant: coordinator ws:\/\/127\.0\.0\.1:\d+ sent no challenge within 2 s of connecting \(.*\) \[E_CONNECT\]$/);
    expect(performance.now() - started).toBeLessThan(12_000);
  });

  it('refuses a job of 10^9 parameters before building anything (--max-params)', async () => {
    const codec = createCodec();
    const job: WorkerJob = {
      layers: [{ type: 'embedding', inputDim: 1_000_000, outputDim: 1000, inputLength: 4 }, { type: 'dense', units: 1, activation: 'linear', useBias: true }],
      loss: 'meanSquaredError',
      metrics: [],
      backend: 'cpu',
      seed: 0,
      inputShape: [4],
      paramCount: 1_000_001_001,
    };
    const heard: string[] = [];
    const url = await fakeCoordinator((socket) => {
      socket.send(codec.encode({ type: 'challenge', protocol: PROTOCOL_VERSION, nonce: new Uint8Array(NONCE_BYTES) }));
      socket.on('message', (data: Buffer) => {
        const message = codec.decodeWorkerMessage(data, 'worker');
        heard.push(message.type);
        const welcome: CoordinatorMessage = { type: 'welcome', protocol: PROTOCOL_VERSION, workerId: 1, job, heartbeatMs: 60_000, jobId: 'huge' };
        if (message.type === 'hello') socket.send(codec.encode(welcome));
      });
    });
    const started = performance.now();
    const result = await runCli(['worker', '--connect', url, '--reconnect-timeout', '0'], { timeoutMs: 30_000 });
    expect(result.code).toBe(1);
    expect(result.stderr.trim()).toMatch(/^adamant: coordinator ws:\/\/\S+ sent a job of 1,000,001,001 parameters, more than this worker accepts \(--max-params 50,000,000\) \[E_SHAPE\]$/);
    expect(heard).toEqual(['hello', 'failed']);
    expect(performance.now() - started).toBeLessThan(10_000);
  });
});

describe('bounded connections', () => {
  it('closes an idle TCP connection within 6 s', async () => {
    const coordinator = await startCoordinator(path.join(tmp.dir, 'idle'));
    const started = performance.now();
    const idle = net.connect(coordinator.port, '127.0.0.1');
    stop.push(() => idle.destroy());
    await new Promise((resolve) => idle.once('close', resolve));
    expect(performance.now() - started).toBeLessThan(6_000);
  });

  it('refuses connections beyond --max-connections while training goes on undisturbed', async () => {
    const out = path.join(tmp.dir, 'max-connections');
    const coordinator = await startCoordinator(out, ['--max-connections', '3']);
    // Two authenticated peers that never say ready hold two of the three connections.
    for (const name of ['holder-1', 'holder-2']) {
      const holder = await rawPeer(coordinator.url);
      holder.hello(token, name);
      expect(await holder.next()).toMatchObject({ type: 'welcome' });
      stop.push(() => holder.socket.terminate());
    }
    // The third is the honest worker, slowed down so that training lasts while the fourth knocks.
    const worker = spawnCli(['worker', '--connect', coordinator.url, '--token-file', tokenFile, '--reconnect-timeout', '0'], { ADAMANT_TOKEN: '', ADAMANT_SLOW_CHUNK_MS: '20' });
    stop.push(() => worker.child.kill('SIGKILL'));
    await expect.poll(() => /worker joined/.test(coordinator.output()), { timeout: 60_000 }).toBe(true);
    const fourth = await rawPeer(coordinator.url).then(
      () => 'accepted',
      (err: Error) => err.message,
    );
    expect(fourth).not.toBe('accepted');
    expect(coordinator.output()).toMatch(/WARN\s+refusing new connections reason=3 connections open \(the limit is 3\)/);
    expect((await worker.exit).code).toBe(0);
    await expectUndisturbed(coordinator, out);
  });
});
