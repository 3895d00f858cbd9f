import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, type LayerSpec } from '@adamant/core';
import { engineRows } from './engines.js';
import { progress, sideBySide } from './measure.js';
import type { BenchRow } from './results.js';
import { autoEngine, batchOf, fusedTrainer, REFERENCE, referenceLayers as layers, type Shape, tokensPerSecond } from './textModels.js';

const SECTION = 'lstm';

/**
 * The straightforward variant on wasm: the embedding lookup and its scatter-add in typed arrays,
 * but the LSTMs and head through tfjs layers with autodiff (what one writes first on wasm).
 */
function straightforwardTrainer(shape: Shape): { step: () => void; dispose: () => void } {
  const full = buildModel(layers(shape), 1);
  const table = full.layers[0]!.getWeights()[0]!.dataSync() as Float32Array;
  const rest = buildModel([{ ...(layers(shape)[1] as Extract<LayerSpec, { type: 'lstm' }>), inputShape: [shape.length, 64] }, ...layers(shape).slice(2)], 1);
  rest.setWeights(full.getWeights().slice(1));
  const variables = rest.trainableWeights.map((w) => w.read() as tf.Variable);
  const { x, y } = batchOf(shape);
  const embedded = new Float32Array(x.length * 64);
  const rows = new Float32Array(shape.vocabulary * 64);
  const step = () => {
    x.forEach((id, k) => {
      embedded.set(table.subarray(id * 64, id * 64 + 64), k * 64);
    });
    tf.tidy(() => {
      const input = tf.variable(tf.tensor3d(embedded, [shape.batch, shape.length, 64]), true, `embedded_${Math.random()}`);
      const ys = tf.tensor2d(y, [shape.batch, 1]);
      const { grads } = tf.variableGrads(() => tf.metrics.binaryCrossentropy(ys, rest.apply(input, { training: true }) as tf.Tensor).sum() as tf.Scalar, [...variables, input]);
      const dInput = grads[input.name]!.dataSync();
      rows.fill(0);
      x.forEach((id, k) => {
        for (let e = 0; e < 64; e++) rows[id * 64 + e]! += dInput[k * 64 + e]!;
      });
      for (const v of variables) grads[v.name]!.dataSync();
      input.dispose();
    });
  };
  return {
    step,
    dispose: () => {
      full.dispose();
      rest.dispose();
    },
  };
}

/** The fused path against the straightforward tfjs-autodiff LSTM, both on wasm, one batch of the reference model. */
async function straightforwardRow(shape: Shape): Promise<BenchRow> {
  progress('lstm: fused path against a tfjs-autodiff LSTM, wasm');
  await tf.setBackend('wasm');
  const fused = fusedTrainer(shape, layers(shape));
  const straightforward = straightforwardTrainer(shape);
  // One call per round: a straightforward step takes seconds.
  const timing = await sideBySide({ fused: fused.step, straightforward: straightforward.step }, { rounds: 2, minMs: 1 });
  fused.dispose();
  straightforward.dispose();
  return {
    section: SECTION,
    name: 'fused path vs a straightforward tfjs LSTM (autodiff), wasm backend',
    sizes: 'reference model, batch 64 x 100 tokens (fused: chunks of 32); lookup outside autodiff for the tfjs one',
    a: { label: `fused path, ${autoEngine().name} engine`, value: tokensPerSecond(shape, timing.ns.fused), unit: 'tok/s' },
    b: { label: 'tfjs-layers LSTMs with autodiff', value: tokensPerSecond(shape, timing.ns.straightforward), unit: 'tok/s' },
    ratio: timing.ratio('straightforward', 'fused'),
  };
}

/** A fused worker on wasm against tfjs `model.trainOnBatch` on cpu (autodiff Embedding included), small config. */
async function trainOnBatchRow(shape: Shape): Promise<BenchRow> {
  progress('lstm: fused path against model.trainOnBatch, small config');
  await tf.setBackend('cpu');
  const model = buildModel(layers(shape), 1);
  model.compile({ optimizer: tf.train.adam(), loss: 'binaryCrossentropy' });
  const { x, y } = batchOf(shape);
  const xs = tf.tensor2d(x, [shape.batch, shape.length]);
  const ys = tf.tensor2d(y, [shape.batch, 1]);
  await model.trainOnBatch(xs, ys);
  await tf.setBackend('wasm');
  const fused = fusedTrainer(shape, layers(shape));
  fused.step();
  // Warmed up above, and one round of one call: trainOnBatch takes 10-40 s on cpu, and the ratio is in the hundreds.
  const timing = await sideBySide(
    {
      trainOnBatch: async () => {
        await tf.setBackend('cpu');
        await model.trainOnBatch(xs, ys);
      },
      fused: async () => {
        await tf.setBackend('wasm');
        fused.step();
      },
    },
    { rounds: 1, minMs: 1, warmUp: false },
  );
  await tf.setBackend('cpu');
  tf.dispose([xs, ys]);
  model.dispose();
  await tf.setBackend('wasm');
  fused.dispose();
  return {
    section: SECTION,
    name: 'fused worker vs tfjs model.trainOnBatch (cpu)',
    sizes: `Embedding(${shape.vocabulary}, 64, length ${shape.length}) -> LSTM(128) -> LSTM(64) -> Dense(1), batch ${shape.batch}`,
    a: { label: `fused path, wasm backend, ${autoEngine().name} engine`, value: tokensPerSecond(shape, timing.ns.fused), unit: 'tok/s' },
    b: { label: 'model.trainOnBatch, cpu (autodiff Embedding)', value: tokensPerSecond(shape, timing.ns.trainOnBatch), unit: 'tok/s' },
    ratio: timing.ratio('trainOnBatch', 'fused'),
    note: "wasm cannot differentiate an Embedding (no UnsortedSegmentSum), so tfjs needs cpu",
  };
}

/** One worker's compute on the reference model: each GEMM engine against its ceiling, and the fused path against tfjs. */
export async function benchLstm(): Promise<BenchRow[]> {
  return [...(await engineRows()), await straightforwardRow(REFERENCE), await trainOnBatchRow({ vocabulary: 2000, length: 20, batch: 32 })];
}
