import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, mulberry32, useBackend, type LayerSpec, type ResolvedBackend } from '@adamant/core';
import { heading, nsPerCall, row } from './measure.js';
import { batchOf, fmtTokens as fmt, fusedTrainer, referenceLayers as layers, type Shape, tokensPerSecond } from './textModels.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
/** Training FLOPs per token of the reference model (forward + backward, ~3x the forward matMuls). */
const FLOP_PER_TOKEN = 0.885e6;

/** One Adamant worker's fused path: a batch as the spam job computes it (chunks of 32). */
async function fusedTokensPerSecond(backend: ResolvedBackend, shape: Shape): Promise<number> {
  await tf.setBackend(backend);
  const trainer = fusedTrainer(shape, layers(shape));
  const ns = await nsPerCall(trainer.step, { rounds: 3, minMs: 1500 });
  trainer.dispose();
  return tokensPerSecond(shape, ns);
}

/**
 * The straightforward variant: the embedding lookup and its scatter-add in typed arrays, but the
 * LSTMs and head through tfjs layers with autodiff (what one writes first on wasm).
 */
async function straightforwardTokensPerSecond(shape: Shape): Promise<number> {
  await tf.setBackend('wasm');
  const full = buildModel(layers(shape), 1);
  const table = full.layers[0]!.getWeights()[0]!.dataSync() as Float32Array;
  const rest = buildModel(
    [{ ...(layers(shape)[1] as Extract<LayerSpec, { type: 'lstm' }>), inputShape: [shape.length, 64] }, ...layers(shape).slice(2)],
    1,
  );
  rest.setWeights(full.getWeights().slice(1));
  const variables = rest.trainableWeights.map((w) => w.read() as tf.Variable);
  const { x, y } = batchOf(shape);
  const embedded = new Float32Array(x.length * 64);
  const ns = await nsPerCall(
    () => {
      x.forEach((id, k) => {
        embedded.set(table.subarray(id * 64, id * 64 + 64), k * 64);
      });
      tf.tidy(() => {
        const input = tf.variable(tf.tensor3d(embedded, [shape.batch, shape.length, 64]), true, `embedded_${Math.random()}`);
        const ys = tf.tensor2d(y, [shape.batch, 1]);
        const { grads } = tf.variableGrads(() => tf.metrics.binaryCrossentropy(ys, rest.apply(input, { training: true }) as tf.Tensor).sum() as tf.Scalar, [...variables, input]);
        const dInput = grads[input.name]!.dataSync();
        const rows = new Float32Array(shape.vocabulary * 64);
        x.forEach((id, k) => {
          for (let e = 0; e < 64; e++) rows[id * 64 + e]! += dInput[k * 64 + e]!;
        });
        for (const v of variables) grads[v.name]!.dataSync();
        input.dispose();
      });
    },
    { rounds: 2, minMs: 1500 },
  );
  full.dispose();
  rest.dispose();
  return (shape.batch * shape.length) / (ns / 1e9);
}

/** GFLOP/s of one gate-shaped matMul (64x192 by 192x512) on a backend. */
async function gateMatMulGflops(backend: ResolvedBackend): Promise<number> {
  await tf.setBackend(backend);
  const a = tf.randomNormal([64, 192]);
  const b = tf.randomNormal([192, 512]);
  // No tf.tidy here: tidy walks a returned typed array element by element, which costs more than the matMul.
  const ns = await nsPerCall(
    () => {
      const product = tf.matMul(a, b);
      product.dataSync();
      product.dispose();
    },
    { rounds: 3, minMs: 300 },
  );
  a.dispose();
  b.dispose();
  return (2 * 64 * 192 * 512) / ns;
}

/** tfjs `model.trainOnBatch` on the cpu backend (autodiff Embedding included). */
async function trainOnBatchTokensPerSecond(shape: Shape): Promise<number> {
  await tf.setBackend('cpu');
  const model = buildModel(layers(shape), 1);
  model.compile({ optimizer: tf.train.adam(), loss: 'binaryCrossentropy' });
  const { x, y } = batchOf(shape);
  const xs = tf.tensor2d(x, [shape.batch, shape.length]);
  const ys = tf.tensor2d(y, [shape.batch, 1]);
  const ns = await nsPerCall(() => model.trainOnBatch(xs, ys), { rounds: 1, minMs: 1 });
  model.dispose();
  return (shape.batch * shape.length) / (ns / 1e9);
}

/** `adamant train --workers N` on random texts shaped like the reference job; tokens/s inside the steps. */
function cliTokensPerSecond(workers: number, shape: Shape, batches: number): number {
  const dir = mkdtempSync(path.join(tmpdir(), 'adamant-bench-'));
  try {
    const random = mulberry32(3);
    const lines = Array.from({ length: shape.batch * batches }, () =>
      JSON.stringify({ text: Array.from({ length: shape.length }, () => `w${Math.floor(random() * shape.vocabulary * 2)}`).join(' '), label: random() < 0.4 ? 1 : 0 }),
    );
    writeFileSync(path.join(dir, 'texts.jsonl'), `${lines.join('\n')}\n`);
    writeFileSync(
      path.join(dir, 'job.json'),
      JSON.stringify({
        model: layers(shape),
        loss: 'binaryCrossentropy',
        metrics: ['accuracy'],
        batchSize: shape.batch,
        chunkSize: 32,
        epochs: 1,
        data: { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: shape.vocabulary }, maxLength: shape.length },
      }),
    );
    const run = spawnSync(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), 'train', path.join(dir, 'job.json'), '--workers', String(workers), '--json', '--out', path.join(dir, 'out')], { encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`adamant train failed: ${run.stderr}`);
    const result = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { samples: number; trainingSeconds: number };
    return (result.samples * shape.length) / result.trainingSeconds;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

const gflops = (tokens: number) => (tokens * FLOP_PER_TOKEN) / 1e9;

/** Issue 4's figures, measured side by side in this run. */
export async function benchLstm(): Promise<void> {
  const reference: Shape = { vocabulary: 10_000, length: 100, batch: 64 };
  heading('LSTM text classifier, reference model: Embedding(10000, 64, length 100) -> LSTM(128) -> LSTM(64) -> Dense(1), batch 64');
  const backends: ResolvedBackend[] = ['wasm', 'cpu'];
  if (await useBackend('tensorflow').then(() => true, () => false)) backends.unshift('tensorflow');
  let wasmWorker = 0;
  for (const backend of backends) {
    const tokens = await fusedTokensPerSecond(backend, reference);
    const matMul = await gateMatMulGflops(backend);
    if (backend === 'wasm') wasmWorker = tokens;
    row(`one worker, fused path, ${backend}`, fmt(tokens), `${gflops(tokens).toFixed(1)} GFLOP/s = ${((100 * gflops(tokens)) / matMul).toFixed(0)}% of a gate matMul (${matMul.toFixed(1)} GFLOP/s)`);
  }
  const straightforward = await straightforwardTokensPerSecond(reference);
  row('one worker, straightforward wasm (tfjs autodiff LSTM)', fmt(straightforward), `fused is ${(wasmWorker / straightforward).toFixed(1)}x faster`);
  // 30 batches, so that start-up (JIT, first allocations) weighs little in the steps' time.
  const one = cliTokensPerSecond(1, reference, 30);
  const two = cliTokensPerSecond(2, reference, 30);
  row('adamant train --workers 1 (processes, loopback)', fmt(one), `${gflops(one).toFixed(1)} GFLOP/s`);
  row('adamant train --workers 2 (processes, loopback)', fmt(two), `${(two / one).toFixed(2)}x one worker`);

  const small: Shape = { vocabulary: 2000, length: 20, batch: 32 };
  heading('Small config: vocab 2000, length 20, batch 32');
  const trainOnBatch = await trainOnBatchTokensPerSecond(small);
  row('tfjs model.trainOnBatch, cpu (autodiff Embedding)', fmt(trainOnBatch));
  for (const backend of ['cpu', 'wasm'] as const) {
    const tokens = await fusedTokensPerSecond(backend, small);
    row(`Adamant worker, fused path, ${backend}`, fmt(tokens), `${(tokens / trainOnBatch).toFixed(0)}x trainOnBatch`);
  }
}
