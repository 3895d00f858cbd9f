import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeStepWeights, encodeChunkResult, readFloats, useBackend, type StepMessage, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from '@adamant/worker';
import { checkpointsOf, housingConfigPath, jsonResult, runCli, startCli, tempDir, writeJson } from './support/cli.js';
import { rawPeer, type RawPeer } from './support/rawPeer.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * Issue 9, the numbers: a huge gradient, a diverging run, a peer that keeps its chunks and a peer
 * that lies. None of them ends in NaN weights or a hang: the job either stops at once with
 * E_NUMERIC and a resumable checkpoint of the last good state, or costs the bad peer its
 * connection and ends with the weights of an undisturbed run, to the byte.
 */
const tmp = tempDir('adamant-numeric-');
const token = randomBytes(24).toString('base64url');
let baselineDir: string;
let housing: Record<string, unknown> & { data: Record<string, unknown> };
let configPath: string;
const stop: (() => void)[] = [];

beforeAll(async () => {
  const raw = JSON.parse(readFileSync(housingConfigPath, 'utf8')) as typeof housing;
  housing = { ...raw, data: { ...raw.data, path: path.resolve(path.dirname(housingConfigPath), raw.data.path as string) }, epochs: 2 };
  configPath = writeJson(path.join(tmp.dir, 'job.json'), housing);
  baselineDir = await sharedRun(configPath, ['--workers', '1']);
});
afterEach(() => {
  for (const f of stop.splice(0)) f();
});
afterAll(() => tmp.cleanup());

/** A coordinator on loopback; resolves once it listens. */
async function startCoordinator(config: string, out: string, extra: string[] = []) {
  const started = await startCli(['coordinator', config, '--port', '0', '--host', '127.0.0.1', '--token', token, '--out', out, '--json', ...extra], /listening on 127\.0\.0\.1:(\d+)/);
  stop.push(() => started.child.kill('SIGKILL'));
  const exited = new Promise<number | null>((resolve) => started.child.on('close', resolve));
  return { url: `ws://127.0.0.1:${started.match[1]}`, exited, output: started.output };
}

/** An honest worker that trains until the job ends. */
const honestWorker = (url: string) => runCli(['worker', '--connect', url, '--token', token, '--reconnect-timeout', '0'], { timeoutMs: 120_000 });

/**
 * A raw peer that logs in with the token, says it is ready on `backend`, and answers each step
 * with `answer` (nothing: it keeps its chunks). Resolves once it is ready; `closed` says how its
 * connection ended, and `rejects` collects the reasons it was refused.
 */
async function joinAs(url: string, name: string, answer: (peer: RawPeer, step: StepMessage, job: WorkerJob) => void, backend = 'wasm') {
  const peer = await rawPeer(url);
  peer.hello(token, name);
  const welcome = await peer.next();
  if (!('type' in welcome) || welcome.type !== 'welcome') throw new Error(`expected a welcome, got ${JSON.stringify(welcome)}`);
  peer.send({ type: 'ready', backend: backend as 'wasm' });
  const rejects: string[] = [];
  const closed = (async () => {
    for (;;) {
      const heard = await peer.next();
      if (!('type' in heard)) return heard;
      if (heard.type === 'reject') rejects.push(heard.message);
      if (heard.type === 'step') answer(peer, heard, welcome.job);
    }
  })();
  return { peer, closed, rejects, job: welcome.job };
}

/** Answers every chunk with a gradient of 3e38 in its first value: finite, and far beyond anything honest. */
const hugeGradient = (peer: RawPeer, step: StepMessage, job: WorkerJob) => {
  for (const chunk of step.chunks) {
    const dense = new Float32Array(job.paramCount);
    dense[0] = 3e38;
    peer.send(encodeChunkResult(step.step, chunk.index, chunk.samples, { dense, lossSum: 1, metricSums: [1] }));
  }
};


describe('a finite but huge gradient (3e38)', () => {
  it('by default: the update is refused, the job stops with E_NUMERIC and a checkpoint of the last good state, which resumes to the undisturbed weights', async () => {
    const out = path.join(tmp.dir, 'huge');
    const coordinator = await startCoordinator(configPath, out, ['--min-workers', '2']);
    const worker = honestWorker(coordinator.url);
    await joinAs(coordinator.url, 'huge-peer', hugeGradient);
    expect(await coordinator.exited).toBe(1);
    const output = coordinator.output();
    // One such chunk overflows Adam's second moment; two overflow the float32 sum first.
    const refused = /(the update would make the adam v of dense_1\/kernel\[0\] Infinity; the weights and the optimizer state were kept as they were|the batch-mean gradient of dense_1\/kernel\[0\] is Infinity \(the chunks' sum overflows float32\); the weights were not updated)/;
    expect(output).toMatch(new RegExp(`adamant: step 0 \\(epoch 1, batch 1\\): ${refused.source}\\. Lower the learning rate or check the data; the last good state is saved in \\S+step-000000000\\.ckpt \\[E_NUMERIC\\]`));
    expect(output).not.toMatch(/NaN/);
    await worker;
    expect(checkpointsOf(out).map((f) => path.basename(f))).toEqual(['step-000000000.ckpt']);
    const resumed = await runCli(['train', '--resume', out, '--workers', '1']);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });

  it('with --max-chunk-grad-norm: the peer is dropped, another worker computes its chunks, and the weights are those of an undisturbed run', async () => {
    const out = path.join(tmp.dir, 'bounded');
    const coordinator = await startCoordinator(configPath, out, ['--min-workers', '2', '--max-chunk-grad-norm', '1e6']);
    const worker = honestWorker(coordinator.url);
    const peer = await joinAs(coordinator.url, 'huge-peer', hugeGradient);
    expect(await peer.closed).toMatchObject({ closed: 1008 });
    expect(await coordinator.exited, coordinator.output().slice(-3000)).toBe(0);
    expect(coordinator.output()).toMatch(/dropping worker.*huge-peer.*gradient L2 norm 3\.000e\+38 exceeds 1000000 x \d+ samples \(--max-chunk-grad-norm\)/);
    expect((await worker).code).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });
});

describe('an honestly diverging run (learning rate 1e30)', () => {
  let diverging: string;
  beforeAll(() => {
    diverging = writeJson(path.join(tmp.dir, 'diverging.json'), { ...housing, optimizer: { adam: { learningRate: 1e30 } } });
  });

  it('adamant coordinator: exits 1 with E_NUMERIC and a checkpoint within seconds, never hangs', async () => {
    const out = path.join(tmp.dir, 'diverging-coordinator');
    const started = Date.now();
    const coordinator = await startCoordinator(diverging, out);
    const worker = honestWorker(coordinator.url);
    expect(await coordinator.exited).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    const errorLine = coordinator.output().split('\n').find((l) => l.startsWith('adamant: '));
    expect(errorLine).toMatch(/^adamant: step \d+ \(epoch 1, batch \d+\).* is (NaN|-?Infinity).*the last good state is saved in \S+\.ckpt \[E_NUMERIC\]$/);
    expect(checkpointsOf(out)).toHaveLength(1);
    // The worker is told to stop and, with no time to wait for a resume, exits.
    expect((await worker).stderr).toMatch(/coordinator stopped: numeric error/);
  });

  it('adamant train: exits 1 with the same one line', async () => {
    const out = path.join(tmp.dir, 'diverging-train');
    const result = await runCli(['train', diverging, '--workers', '2', '--out', out], { timeoutMs: 60_000 });
    expect(result.code).toBe(1);
    expect(result.stderr.trim().split('\n').at(-1)).toMatch(/^adamant: step \d+ .*\[E_NUMERIC\]$/);
    expect(checkpointsOf(out)).toHaveLength(1);
  });
});

describe('a peer that answers pings but never returns its chunks', () => {
  it('is dropped at the --chunk-timeout with a warning naming it, the step and the chunk; training ends with the undisturbed weights', async () => {
    const out = path.join(tmp.dir, 'silent');
    const coordinator = await startCoordinator(configPath, out, ['--min-workers', '2', '--chunk-timeout', '2']);
    const worker = honestWorker(coordinator.url);
    const peer = await joinAs(coordinator.url, 'silent-peer', () => {});
    expect(await peer.closed).toMatchObject({ closed: 1008 });
    expect(await coordinator.exited, coordinator.output().slice(-3000)).toBe(0);
    expect(coordinator.output()).toMatch(/WARN +chunk deadline passed: dropping the worker; its chunks go to the others worker=silent-peer \(127\.0\.0\.1:\d+\) step=\d+ chunk=\d+ heldS=\d+ deadlineS=2/);
    expect((await worker).code).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });
});

describe('--verify with a worker that flips the sign of its gradients', () => {
  it('names and quarantines it, refuses it when it comes back, and ends with the weights of an undisturbed run', async () => {
    const out = path.join(tmp.dir, 'verify');
    const coordinator = await startCoordinator(configPath, out, ['--min-workers', '3', '--verify', '0.25']);
    const workers = [honestWorker(coordinator.url), honestWorker(coordinator.url)];
    // The liar computes honestly, in this process, on the backend the workers use, then flips the sign.
    await useBackend('wasm');
    let gradients: AutodiffGradients | undefined;
    let weights: Float32Array | undefined;
    const flipper = await joinAs(coordinator.url, 'flipper', (peer, step, job) => {
      gradients ??= AutodiffGradients.create(job, 'wasm');
      weights ??= new Float32Array(job.paramCount);
      gradients.setWeights(decodeStepWeights(step, weights, undefined, 'coordinator'));
      for (const chunk of step.chunks) {
        const x = readFloats(chunk.x, undefined, 'x', 'coordinator');
        const y = readFloats(chunk.y, chunk.samples, 'y', 'coordinator');
        const honest = gradients.compute(x, y, chunk.samples, chunk.seed);
        peer.send(encodeChunkResult(step.step, chunk.index, chunk.samples, { ...honest, dense: honest.dense.map((v) => -v) }));
      }
    });
    expect(await flipper.closed).toMatchObject({ closed: 1008 });
    expect(flipper.rejects).toEqual([expect.stringMatching(/^quarantined for the rest of this job: step \d+ \(epoch 1, batch \d+\), chunk \d+: its result differs from those of .+ and .+, which agree \(--verify\)$/)]);
    // It comes back under the same name: refused as soon as it is ready.
    const again = await joinAs(coordinator.url, 'flipper', () => {});
    expect(await again.closed).toMatchObject({ closed: 1008 });
    expect(again.rejects).toEqual([expect.stringMatching(/^quarantined for the rest of this job/)]);
    expect(await coordinator.exited, coordinator.output().slice(-3000)).toBe(0);
    expect(coordinator.output()).toMatch(/worker quarantined.*flipper/);
    const summary = jsonResult({ code: 0, stdout: coordinator.output().split('\n').filter((l) => l.startsWith('{')).join('\n'), stderr: '' });
    expect(summary.verification).toMatchObject({ quarantined: [expect.stringMatching(/^flipper \(/)], mismatches: expect.any(Number), verified: expect.any(Number), unverifiable: 0 });
    for (const worker of workers) expect((await worker).code).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
    gradients?.dispose();
  });
});
