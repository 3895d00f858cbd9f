import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, ParamLayout, useBackend, type LayerSpec, type LossName, type ResolvedBackend } from '@adamant/core';
import { AutodiffGradients, FusedGradients, INFERENCE_ROWS } from '@adamant/worker';
import { heading, row, sideBySide } from './measure.js';
import { batchOf, CHUNK, fmtTokens, fusedTrainer, jobOf, referenceLayers, regularizedLayers, type Shape, specs, tokensPerSecond } from './textModels.js';

/** A GRU text classifier: Embedding(V, 64) -> GRU(64) -> Dense(1, sigmoid). */
function gruLayers({ vocabulary, length }: Shape): LayerSpec[] {
  return specs([
    { type: 'embedding', inputDim: vocabulary, outputDim: 64, inputLength: length },
    { type: 'gru', units: 64 },
    { type: 'dense', units: 1, activation: 'sigmoid' },
  ]);
}

/** examples/spam-groups' model: Embedding -> Dropout -> Bidirectional(GRU 64) -> Dense(64, relu) -> Dropout -> Dense(4, softmax). */
function spamGroupsLayers({ vocabulary, length }: Shape): LayerSpec[] {
  return specs([
    { type: 'embedding', inputDim: vocabulary, outputDim: 64, inputLength: length },
    { type: 'dropout', rate: 0.2 },
    { type: 'bidirectional', layer: { type: 'gru', units: 64 } },
    { type: 'dense', units: 64, activation: 'relu' },
    { type: 'dropout', rate: 0.3 },
    { type: 'dense', units: 4, activation: 'softmax' },
  ]);
}

/** Issue 10's first row: the regularised reference model against the plain one, both fused on wasm, timed in alternation. */
async function regularizedRow(shape: Shape): Promise<void> {
  await tf.setBackend('wasm');
  const plain = fusedTrainer(shape, referenceLayers(shape));
  const regularized = fusedTrainer(shape, regularizedLayers(shape));
  const timing = await sideBySide({ plain: plain.step, regularized: regularized.step }, { rounds: 9, minMs: 700 });
  plain.dispose();
  regularized.dispose();
  row('reference model, fused, wasm', fmtTokens(tokensPerSecond(shape, timing.ns.plain)));
  const share = 100 * timing.ratio('plain', 'regularized');
  row('+ dropout(0.2) + Dense(64, relu), fused', fmtTokens(tokensPerSecond(shape, timing.ns.regularized)), `${share.toFixed(0)}% of the plain model's tokens/s (target: >= 80%)`);
}

/**
 * One chunk of the GRU model, fused on wasm and cpu against tfjs autodiff on the backend a worker
 * picks for an autodiff embedding (cpu without tfjs-node: wasm has no UnsortedSegmentSum), timed
 * in alternation, each candidate on its own backend.
 */
async function gruRows(shape: Shape): Promise<void> {
  const layers = gruLayers(shape);
  const chunk: Shape = { ...shape, batch: CHUNK };
  const onBackend = async (backend: ResolvedBackend) => {
    await tf.setBackend(backend);
    return fusedTrainer(chunk, layers);
  };
  const fusedWasm = await onBackend('wasm');
  const fusedCpu = await onBackend('cpu');
  const autodiffBackend = await useBackend('auto', { needsSegmentSum: true });
  const { job, weights } = jobOf(layers, 'binaryCrossentropy', autodiffBackend, shape.length);
  const autodiff = AutodiffGradients.create(job, autodiffBackend);
  autodiff.setWeights(weights);
  const { x, y } = batchOf(chunk);
  // Warm-ups of one step, and of one sample for autodiff: an autodiff chunk takes seconds here
  // (cpu's embedding gradient grows with vocabulary x tokens), so it is timed twice only.
  autodiff.compute(x.subarray(0, shape.length), y.subarray(0, 1), 1, 1);
  for (const [backend, trainer] of [['wasm', fusedWasm], ['cpu', fusedCpu]] as const) {
    await tf.setBackend(backend);
    trainer.step();
  }
  const timing = await sideBySide(
    {
      autodiff: async () => {
        await tf.setBackend(autodiffBackend);
        autodiff.compute(x, y, CHUNK, 1);
      },
      wasm: async () => {
        await tf.setBackend('wasm');
        fusedWasm.step();
      },
      cpu: async () => {
        await tf.setBackend('cpu');
        fusedCpu.step();
      },
    },
    { rounds: 2, minMs: 300, warmUp: false },
  );
  autodiff.dispose();
  fusedWasm.dispose();
  fusedCpu.dispose();
  row(`tfjs autodiff (AutodiffGradients), ${autodiffBackend}`, fmtTokens(tokensPerSecond(chunk, timing.ns.autodiff)), 'what the worker ran for a GRU before issue 10');
  for (const backend of ['wasm', 'cpu'] as const) {
    row(`fused path, ${backend}`, fmtTokens(tokensPerSecond(chunk, timing.ns[backend])), `${timing.ratio('autodiff', backend).toFixed(0)}x autodiff`);
  }
}

/**
 * Inference on `rows` samples: the fused forward (FusedGradients.evaluate: loss and metric
 * statistics included) against tfjs model.predict (outputs only) on the same model and weights,
 * both on wasm (what `adamant evaluate` picks), timed in alternation. The outputs are compared too.
 */
async function evaluateRows(name: string, shape: Shape, layers: LayerSpec[], loss: LossName, classes: number, rows: number): Promise<void> {
  await tf.setBackend('wasm');
  const { job, weights } = jobOf(layers, loss, 'wasm', shape.length);
  const fused = new FusedGradients(job, 'wasm');
  fused.setWeights(weights);
  const model = buildModel(layers, 0, { initialize: false });
  ParamLayout.fromModel(model).write(model, weights);
  const { x, y } = batchOf({ ...shape, batch: rows }, classes, 2);
  const xs = tf.tensor2d(x, [rows, shape.length]);
  const predict = (): Float32Array => {
    const output = model.predict(xs, { batchSize: INFERENCE_ROWS }) as tf.Tensor;
    const values = output.dataSync() as Float32Array;
    output.dispose();
    return values;
  };
  const tfjsOutputs = predict();
  const fusedOutputs = fused.predict(x, rows);
  const gap = tfjsOutputs.reduce((most, value, k) => Math.max(most, Math.abs(value - fusedOutputs[k]!)), 0);
  // Three timed calls each: tfjs predict takes seconds per call at this size.
  const timing = await sideBySide({ fused: () => fused.evaluate(x, y, rows), tfjs: predict }, { rounds: 3, minMs: 1 });
  xs.dispose();
  model.dispose();
  fused.dispose();
  const perSecond = (nsPerCall: number) => rows / (nsPerCall / 1e9);
  row(`${name}: tfjs model.predict, wasm`, `${perSecond(timing.ns.tfjs).toFixed(0)} samples/s`);
  const speedup = timing.ratio('tfjs', 'fused');
  row(`${name}: fused evaluate, wasm`, `${perSecond(timing.ns.fused).toFixed(0)} samples/s`, `${speedup.toFixed(1)}x predict; outputs within ${gap.toExponential(1)}`);
}

/** Issue 10's rows, each measured side by side with its baseline in this run. */
export async function benchModels(): Promise<void> {
  const reference: Shape = { vocabulary: 10_000, length: 100, batch: 64 };
  heading('Issue 10. The reference model, and with a dropout between its LSTMs and a Dense(64, relu) before its head: one worker, batch 64 in chunks of 32, timed in alternation');
  await regularizedRow(reference);

  const small: Shape = { vocabulary: 1000, length: 20, batch: CHUNK };
  heading('GRU model: Embedding(1000, 64, length 20) -> GRU(64) -> Dense(1, sigmoid), one chunk of 32');
  await gruRows(small);

  heading(`Inference, ${INFERENCE_ROWS} samples of length 100 (evaluate, predict, per-epoch validation)`);
  await evaluateRows('reference model', reference, referenceLayers(reference), 'binaryCrossentropy', 2, INFERENCE_ROWS);
  await evaluateRows('spam-groups model', reference, spamGroupsLayers(reference), 'sparseCategoricalCrossentropy', 4, INFERENCE_ROWS);
}
