import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCodec, floatBytes, mulberry32, PROTOCOL_VERSION, type WorkerMessage } from '@adamant/core';
import { housingJob, spawnCli, startCli, tempDir } from './support/cli.js';
import { rawPeer } from './support/rawPeer.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * Anything a peer sends can cost at most that peer's connection: at least 10,000 random and
 * mutated frames, before and after authentication, thrown at a coordinator while an honest worker
 * trains. The coordinator never crashes, its memory stays bounded, and the weights come out
 * byte-identical to an undisturbed run.
 */
describe('a coordinator under a frame fuzzer', () => {
  const tmp = tempDir();
  let configPath: string;
  let baseline: string;
  const token = 'fuzz-token-0123456789';
  const codec = createCodec();

  beforeAll(async () => {
    configPath = housingJob(tmp.dir, { epochs: 3 });
    baseline = await sharedRun(configPath, ['--workers', '1']);
    writeFileSync(path.join(tmp.dir, 'token'), `${token}\n`, { mode: 0o600 });
  });
  afterAll(() => tmp.cleanup());

  /** Valid messages of every kind a worker sends, as seeds for mutation (never a `ready`: see below). */
  function seeds(nonce: Uint8Array): Uint8Array[] {
    const messages: WorkerMessage[] = [
      { type: 'hello', protocol: PROTOCOL_VERSION, name: 'fuzz', proof: new Uint8Array(32) },
      { type: 'failed', code: 'E_X', message: 'm' },
      { type: 'chunk', step: 0, index: 0, samples: 8, lossSum: 1, metricSums: [0.5], grads: floatBytes(new Float32Array(64).fill(0.25)) },
      { type: 'chunk', step: 3, index: 1, samples: 8, lossSum: 1, metricSums: [], grads: floatBytes(new Float32Array(4)), sparseRows: floatBytes(new Float32Array(2)), sparseValues: floatBytes(new Float32Array(8)) },
    ];
    return [...messages.map((m) => codec.encode(m)), nonce];
  }

  function mutate(random: () => number, seed: Uint8Array): Uint8Array {
    const kind = Math.floor(random() * 5);
    const bytes = Uint8Array.from(seed);
    if (kind === 0) return Uint8Array.from({ length: 1 + Math.floor(random() * 300) }, () => Math.floor(random() * 256));
    if (kind === 1) for (let k = 0; k < 1 + random() * 8; k++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
    if (kind === 2) return bytes.subarray(0, Math.floor(random() * bytes.length));
    if (kind === 3) return Uint8Array.from([...bytes, ...Array.from({ length: Math.floor(random() * 40) }, () => Math.floor(random() * 256))]);
    if (kind === 4) {
      const at = Math.floor(random() * bytes.length);
      bytes[at] = bytes[at]! ^ (1 << Math.floor(random() * 8));
    }
    return bytes;
  }

  const rssOf = (pid: number) => Number(readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+)/)?.[1] ?? 0) * 1024;

  it('survives 10,000+ random and mutated frames before and after authentication, byte-identical', async () => {
    const out = path.join(tmp.dir, 'fuzzed');
    const started = await startCli(
      ['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token-file', path.join(tmp.dir, 'token'), '--min-workers', '1', '--out', out, '--json'],
      /listening on 127\.0\.0\.1:(\d+)/,
    );
    const coordinator = started.child;
    let trainingOver = false;
    const exited = new Promise<number | null>((r) => coordinator.on('close', r)).then((code) => {
      trainingOver = true;
      return code;
    });
    const url = `ws://127.0.0.1:${started.match[1]}`;
    const restingRss = rssOf(coordinator.pid!);
    // The honest worker is slowed a little, so that training lasts while the fuzzer runs.
    const honest = spawnCli(['worker', '--connect', url, '--token-file', path.join(tmp.dir, 'token')], { ADAMANT_SLOW_CHUNK_MS: '60' });
    const random = mulberry32(20261126);
    let frames = 0;
    let peakRss = restingRss;
    const sampler = setInterval(() => {
      peakRss = Math.max(peakRss, rssOf(coordinator.pid!));
    }, 50);
    try {
      // Rounds of 20 connections, half authenticated (a hello with the right proof, never `ready`:
      // a peer that took chunks could legitimately change the weights, which is what --verify is
      // for), each sending a burst of mutated frames.
      for (let round = 0; frames < 10_000; round++) {
        await Promise.all(
          Array.from({ length: 20 }, async (_, k) => {
            let peer: Awaited<ReturnType<typeof rawPeer>>;
            try {
              peer = await rawPeer(url);
            } catch {
              return; // refused while the coordinator sheds load: that is its right
            }
            if (k % 2 === 0) peer.hello(token, `fuzzer-${round}-${k}`);
            const pool = seeds(peer.nonce);
            for (let f = 0; f < 30; f++) {
              peer.send(mutate(random, pool[Math.floor(random() * pool.length)]!));
              frames++;
            }
            await new Promise((r) => setTimeout(r, 5));
            peer.socket.terminate();
          }),
        );
      }
    } finally {
      clearInterval(sampler);
    }
    expect(frames).toBeGreaterThanOrEqual(10_000);
    // The fuzzing happened during training, not after it.
    expect(trainingOver).toBe(false);
    expect(await exited, started.output().slice(-3000)).toBe(0);
    expect((await honest.exit).code, honest.output()).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
    // Bounded: the fuzzing costs the coordinator less than 300 MB over its resting size.
    expect(peakRss - restingRss).toBeLessThan(300 * 1024 ** 2);
    expect(started.output().length).toBeLessThan(2 * 1024 ** 2);
  });
});
