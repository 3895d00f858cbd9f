import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { AdamantError, buildModel, mulberry32, ParamLayout, type ChunkGradient, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';
import { ComputeThread, type ChunkInput, type ComputeThreadOptions } from './ComputeThread.js';
import { FusedGradients } from './fused/FusedGradients.js';
import { loadGemmEngine } from './gemm/loadGemmEngine.js';
import { OPENBLAS_LIB_ENV } from './gemm/OpenBlasGemm.js';
import type { GradientPath } from './GradientPath.js';

// The thread runs compiled code: these tests run from src, so they start the built entry (the build comes first in `pnpm test`).
const entry = new URL('../dist/computeThreadEntry.js', import.meta.url);

const denseJob: WorkerJob = {
  layers: [
    { type: 'dense', units: 5, activation: 'relu', useBias: true, inputShape: [4] },
    { type: 'dense', units: 1, activation: 'linear', useBias: true },
  ],
  loss: 'meanSquaredError',
  metrics: ['mae'],
  backend: 'cpu',
  seed: 1,
  inputShape: [4],
  paramCount: 0,
};

const textJob: WorkerJob = {
  layers: [
    { type: 'embedding', inputDim: 30, outputDim: 4, inputLength: 6 },
    { type: 'lstm', units: 5, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid' },
    { type: 'dense', units: 1, activation: 'sigmoid', useBias: true },
  ],
  loss: 'binaryCrossentropy',
  metrics: ['accuracy'],
  backend: 'cpu',
  seed: 2,
  inputShape: [6],
  paramCount: 0,
};

/** The job with its parameter count, and seeded weights perturbed per `salt` (so two steps differ). */
function withWeights(job: WorkerJob, salt: number): { job: WorkerJob; weights: Float32Array } {
  const model = buildModel(job.layers, job.seed);
  const layout = ParamLayout.fromModel(model);
  const weights = layout.read(model);
  model.dispose();
  const random = mulberry32(salt);
  for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! + (random() - 0.5) * 0.3;
  return { job: { ...job, paramCount: layout.size }, weights };
}

function chunksFor(job: WorkerJob, count: number, samples: number, seed: number): ChunkInput[] {
  const random = mulberry32(seed);
  const perSample = job.inputShape.reduce((a, b) => a * b, 1);
  const first = job.layers[0]!;
  const input = () => (first.type === 'embedding' ? Math.floor(random() * first.inputDim) : random() * 2 - 1);
  return Array.from({ length: count }, (_, index) => ({
    index,
    samples,
    seed: 100 + index,
    x: Float32Array.from({ length: samples * perSample }, input),
    y: Float32Array.from({ length: samples }, () => (random() < 0.5 ? 0 : 1)),
  }));
}

/** Every byte of a chunk result, so that "equal" means bitwise equal. */
const bytesOf = (g: ChunkGradient) => ({
  dense: Buffer.from(g.dense.buffer, g.dense.byteOffset, g.dense.byteLength).toString('hex'),
  rows: g.sparse ? Array.from(g.sparse.rows) : undefined,
  values: g.sparse ? Buffer.from(g.sparse.values.buffer, g.sparse.values.byteOffset, g.sparse.values.byteLength).toString('hex') : undefined,
  lossSum: g.lossSum,
  metricSums: g.metricSums,
});

function inProcess(path: GradientPath, weights: Float32Array, chunks: ChunkInput[]) {
  path.setWeights(weights);
  return chunks.map((c) => bytesOf(path.compute(c.x, c.y, c.samples, c.seed)));
}

async function onThread(thread: ComputeThread, weights: Float32Array, chunks: ChunkInput[]) {
  const results: { index: number; bytes: ReturnType<typeof bytesOf> }[] = [];
  // The thread takes its inputs' buffers: send copies, keep the originals for the in-process run.
  const copies = chunks.map((c) => ({ ...c, x: c.x.slice(), y: c.y.slice() }));
  const timing = await thread.runStep(() => thread.weights.set(weights), copies, (index, gradient) => results.push({ index, bytes: bytesOf(gradient) }));
  expect(timing.computed).toBe(chunks.length);
  expect(results.map((r) => r.index)).toEqual(chunks.map((c) => c.index));
  return results.map((r) => r.bytes);
}

describe('the compute thread', () => {
  let threads: ComputeThread[] = [];
  const start = async (job: WorkerJob, options: Omit<ComputeThreadOptions, 'entry'> = {}) => {
    const thread = await ComputeThread.start(job, { entry, ...options });
    threads.push(thread);
    return thread;
  };
  beforeAll(async () => {
    expect(existsSync(fileURLToPath(entry)), 'build the worker package first (npx nx run-many -t build)').toBe(true);
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });
  afterEach(async () => {
    await Promise.all(threads.map((t) => t.terminate()));
    threads = [];
    delete process.env.ADAMANT_GRADIENTS;
    delete process.env.ADAMANT_SLOW_CHUNK_MS;
    delete process.env[OPENBLAS_LIB_ENV];
  });

  it('gives the bits of in-process autodiff for a dense job, step after step', async () => {
    const first = withWeights(denseJob, 3);
    const second = withWeights(denseJob, 4);
    const thread = await start(first.job);
    expect(thread.backend).toBe('cpu');
    const local = AutodiffGradients.create(first.job, 'cpu');
    for (const [step, { weights }] of [first, second].entries()) {
      const chunks = chunksFor(first.job, 3, 7, step);
      expect(await onThread(thread, weights, chunks)).toEqual(inProcess(local, weights, chunks));
    }
    local.dispose();
  });

  it('gives the bits of the in-process fused LSTM path on each GEMM engine, embedding rows included', async () => {
    const { job, weights } = withWeights(textJob, 5);
    const chunks = chunksFor(job, 2, 4, 9);
    const results = [];
    for (const gemm of ['wasm', 'openblas'] as const) {
      const thread = await start(job, { gemm });
      const engine = loadGemmEngine(gemm);
      expect(thread.gemm).toEqual({ name: gemm, build: engine.build });
      expect(thread.gemmFallback).toBeUndefined();
      const local = new FusedGradients(job, 'cpu', engine);
      const threaded = await onThread(thread, weights, chunks);
      expect(threaded[0]!.rows!.length).toBeGreaterThan(0);
      expect(threaded).toEqual(inProcess(local, weights, chunks));
      results.push(threaded);
      local.dispose();
    }
    // Two engines: the same mathematics, other last bits.
    expect(results[1]).not.toEqual(results[0]);
  });

  it('takes the GEMM engine from the job unless told otherwise (auto: OpenBLAS, here)', async () => {
    const { job } = withWeights(textJob, 5);
    expect((await start({ ...job, gemm: 'wasm' })).gemm?.name).toBe('wasm');
    expect((await start({ ...job, gemm: 'wasm' }, { gemm: 'openblas' })).gemm?.name).toBe('openblas');
    expect((await start(job)).gemm?.name).toBe('openblas');
  });

  it('says why auto fell back to wasm, fails without OpenBLAS when told to use it, and has no engine on autodiff', async () => {
    const { job } = withWeights(textJob, 5);
    // The thread inherits the environment: OpenBLAS is missing there.
    process.env[OPENBLAS_LIB_ENV] = '/nonexistent/libopenblas.so.0';
    const fallback = await start(job);
    expect(fallback.gemm?.name).toBe('wasm');
    expect(fallback.gemmFallback).toMatch(/^--gemm auto: OpenBLAS was not found at \/nonexistent\/libopenblas\.so\.0/);
    const error = await start(job, { gemm: 'openblas' }).catch((err: unknown) => err);
    expect((error as AdamantError).code).toBe('E_BACKEND');
    expect((error as AdamantError).message).toMatch(/^--gemm openblas: OpenBLAS was not found .* or use --gemm wasm$/);
    const dense = withWeights(denseJob, 1).job;
    expect((await start({ ...dense, gemm: 'openblas' })).gemm).toBeUndefined();
  });

  it('evaluates forward-only chunks with the bits of the in-process path, on either path, and between training steps', async () => {
    for (const [base, local] of [
      [denseJob, (job: WorkerJob) => AutodiffGradients.create(job, 'cpu')],
      [textJob, (job: WorkerJob) => new FusedGradients(job, 'cpu', loadGemmEngine('openblas'))],
    ] as const) {
      const { job, weights } = withWeights(base, 8);
      const thread = await start(job, { gemm: 'openblas' });
      const path = local(job);
      const chunks = chunksFor(job, 3, 6, 12);
      path.setWeights(weights);
      const expected = chunks.map((c) => ({ index: c.index, evaluation: path.evaluate(c.x, c.y, c.samples) }));
      const evaluate = async () => {
        const results: { index: number; evaluation: unknown }[] = [];
        const copies = chunks.map((c) => ({ ...c, x: c.x.slice(), y: c.y.slice() }));
        const timing = await thread.runEvaluation(() => thread.weights.set(weights), copies, (index, evaluation) => results.push({ index, evaluation }));
        expect(timing.computed).toBe(chunks.length);
        return results;
      };
      const evaluated = await evaluate();
      expect(evaluated).toEqual(expected);
      expect(evaluated.every(({ evaluation }) => Object.keys(evaluation as object).sort().join() === 'lossSum,metricSums')).toBe(true);
      // A training step in between changes nothing of the next evaluation.
      expect(await onThread(thread, weights, chunks)).toEqual(inProcess(path, weights, chunks));
      expect(await evaluate()).toEqual(expected);
      path.dispose();
    }
  });

  it('takes ADAMANT_GRADIENTS=autodiff from the environment it inherits', async () => {
    const { job, weights } = withWeights(textJob, 6);
    process.env.ADAMANT_GRADIENTS = 'autodiff';
    const thread = await start(job);
    const local = AutodiffGradients.create(job, 'cpu');
    const chunks = chunksFor(job, 2, 3, 10);
    expect(await onThread(thread, weights, chunks)).toEqual(inProcess(local, weights, chunks));
    local.dispose();
  });

  it('reports a chunk error with its code and message, after the chunks before it', async () => {
    const { job, weights } = withWeights(textJob, 7);
    const thread = await start(job);
    const chunks = chunksFor(job, 2, 2, 11);
    chunks[1]!.x[3] = 30;
    const delivered: number[] = [];
    const error = await thread.runStep(() => thread.weights.set(weights), chunks, (index) => delivered.push(index)).catch((err: unknown) => err);
    expect(delivered).toEqual([0]);
    expect(error).toBeInstanceOf(AdamantError);
    expect((error as AdamantError).code).toBe('E_SHAPE');
    expect((error as AdamantError).message).toBe("sample 0, position 3: token id 30 is outside the embedding's 0..29");
  });

  it('refuses to start on a backend that is not there, with E_BACKEND', async () => {
    const { job } = withWeights(denseJob, 1);
    const error = await ComputeThread.start({ ...job, backend: 'tensorflow' }, { entry }).catch((err: unknown) => err);
    expect((error as AdamantError).code).toBe('E_BACKEND');
    expect((error as AdamantError).message).toMatch(/backend "tensorflow" is not available/);
  });

  it('skips the chunks of a cancelled step not yet begun (ADAMANT_SLOW_CHUNK_MS holds them)', async () => {
    const { job, weights } = withWeights(denseJob, 2);
    process.env.ADAMANT_SLOW_CHUNK_MS = '20000';
    const thread = await start(job);
    const started = performance.now();
    const step = thread.runStep(() => thread.weights.set(weights), chunksFor(job, 3, 2, 1), () => {});
    setTimeout(() => thread.cancel(), 100);
    expect((await step).computed).toBe(0);
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
