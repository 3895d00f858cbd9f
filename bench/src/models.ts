import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, ParamLayout, useBackend, type LayerSpec, type LossName } from '@adamant/core';
import { AutodiffGradients, FusedGradients, INFERENCE_ROWS, probeGemmEngines } from '@adamant/worker';
import { progress, sideBySide } from './measure.js';
import { type BenchRow, withTarget } from './results.js';
import { autoEngine, batchOf, CHUNK, fusedTrainer, jobOf, REFERENCE, referenceLayers, regularizedLayers, type Shape, specs, tokensPerSecond } from './textModels.js';

const SECTION = 'models';

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
async function regularizedRow(shape: Shape): Promise<BenchRow> {
  await tf.setBackend('wasm');
  progress('models: regularised reference model');
  const plain = fusedTrainer(shape, referenceLayers(shape));
  const regularized = fusedTrainer(shape, regularizedLayers(shape));
  const timing = await sideBySide({ plain: plain.step, regularized: regularized.step }, { rounds: 9, minMs: 700 });
  plain.dispose();
  regularized.dispose();
  return withTarget(
    {
      section: SECTION,
      name: 'reference model + dropout(0.2) + Dense(64, relu) vs the plain one, fused',
      sizes: `one worker, batch 64 x 100 tokens in chunks of 32, ${autoEngine().name} engine`,
      a: { label: 'regularised', value: tokensPerSecond(shape, timing.ns.regularized), unit: 'tok/s' },
      b: { label: 'plain reference model', value: tokensPerSecond(shape, timing.ns.plain), unit: 'tok/s' },
      ratio: timing.ratio('plain', 'regularized'),
      note: 'the dropout draws tfjs\'s own masks (seedrandom\'s alea)',
    },
    0.8,
  );
}

/**
 * One chunk of the GRU model, fused on each GEMM engine that loads (wasm backend) against tfjs
 * autodiff on the backend a worker picks for an autodiff embedding (cpu without tfjs-node: wasm
 * has no UnsortedSegmentSum), timed in alternation, each candidate on its own backend.
 */
async function gruRows(shape: Shape): Promise<BenchRow[]> {
  progress('models: GRU, fused against autodiff');
  const layers = gruLayers(shape);
  const chunk: Shape = { ...shape, batch: CHUNK };
  await tf.setBackend('wasm');
  const engines = probeGemmEngines().flatMap(({ engine }) => (engine ? [engine] : []));
  const fused = engines.map((gemm) => fusedTrainer(chunk, layers, { gemm }));
  const autodiffBackend = await useBackend('auto', { needsSegmentSum: true });
  const { job, weights } = jobOf(layers, 'binaryCrossentropy', autodiffBackend, shape.length);
  const autodiff = AutodiffGradients.create(job, autodiffBackend);
  autodiff.setWeights(weights);
  const { x, y } = batchOf(chunk);
  // Warm-ups of one step, and of one sample for autodiff: an autodiff chunk takes seconds here
  // (cpu's embedding gradient grows with vocabulary x tokens), so it is timed twice only.
  autodiff.compute(x.subarray(0, shape.length), y.subarray(0, 1), 1, 1);
  await tf.setBackend('wasm');
  for (const trainer of fused) trainer.step();
  const candidates: Record<string, () => Promise<void>> = {
    autodiff: async () => {
      await tf.setBackend(autodiffBackend);
      autodiff.compute(x, y, CHUNK, 1);
    },
  };
  engines.forEach((engine, k) => {
    candidates[engine.name] = async () => {
      await tf.setBackend('wasm');
      fused[k]!.step();
    };
  });
  const timing = await sideBySide(candidates, { rounds: 3, minMs: 300, warmUp: false });
  autodiff.dispose();
  await tf.setBackend('wasm');
  for (const trainer of fused) trainer.dispose();
  const autodiffSide = { label: `tfjs autodiff (AutodiffGradients), ${autodiffBackend}`, value: tokensPerSecond(chunk, timing.ns.autodiff!), unit: 'tok/s' };
  return engines.map(({ name }) => ({
    section: SECTION,
    name: `GRU model: fused path (${name} engine) vs tfjs autodiff`,
    sizes: `Embedding(${shape.vocabulary}, 64, length ${shape.length}) -> GRU(64) -> Dense(1), one chunk of ${CHUNK}`,
    a: { label: `fused, ${name} engine`, value: tokensPerSecond(chunk, timing.ns[name]!), unit: 'tok/s' },
    b: autodiffSide,
    ratio: timing.ratio('autodiff', name),
    note: 'autodiff is what a worker ran for a GRU before issue 10',
  }));
}

/**
 * Inference on `rows` samples: the fused forward (FusedGradients.evaluate: loss and metric
 * statistics included) against tfjs model.predict (outputs only) on the same model and weights,
 * both on wasm (what `adamant evaluate` picks; the fused path on the default GEMM engine), timed in
 * alternation. The outputs are compared too.
 */
async function evaluateRow(name: string, shape: Shape, layers: LayerSpec[], loss: LossName, classes: number, rows: number): Promise<BenchRow> {
  progress(`models: inference, ${name}`);
  await tf.setBackend('wasm');
  const { job, weights } = jobOf(layers, loss, 'wasm', shape.length);
  const fused = new FusedGradients(job, 'wasm', autoEngine());
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
  return {
    section: SECTION,
    name: `inference, ${name}: fused evaluate vs tfjs predict`,
    sizes: `${rows} samples of length ${shape.length}, wasm backend, ${autoEngine().name} engine`,
    a: { label: 'fused forward (loss and metrics included)', value: perSecond(timing.ns.fused), unit: 'samples/s' },
    b: { label: 'tfjs model.predict (outputs only)', value: perSecond(timing.ns.tfjs), unit: 'samples/s' },
    ratio: timing.ratio('tfjs', 'fused'),
    note: `outputs within ${gap.toExponential(1)}`,
  };
}

/** Issue 10's rows, each measured side by side with its baseline in this run. */
export async function benchModels(): Promise<BenchRow[]> {
  const small: Shape = { vocabulary: 1000, length: 20, batch: CHUNK };
  return [
    await regularizedRow(REFERENCE),
    ...(await gruRows(small)),
    await evaluateRow('reference model', REFERENCE, referenceLayers(REFERENCE), 'binaryCrossentropy', 2, INFERENCE_ROWS),
    await evaluateRow('spam-groups model', REFERENCE, spamGroupsLayers(REFERENCE), 'sparseCategoricalCrossentropy', 4, INFERENCE_ROWS),
  ];
}
