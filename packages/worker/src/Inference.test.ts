import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  buildModel,
  EVALUATION_ROWS,
  evaluateSums,
  meansOf,
  mulberry32,
  ParamLayout,
  parseJobConfig,
  sampleShape,
  type Dataset,
  type LayerSpec,
  type SavedModel,
} from '@adamant/core';
import { Inference } from './Inference.js';

const [VOCABULARY, LENGTH] = [30, 7];
const textData = { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: VOCABULARY }, maxLength: LENGTH };

/**
 * A saved model in memory, as loadSavedModel returns it: the tfjs model with seeded weights,
 * perturbed so that no output sits at a trivial value, and the parsed config.
 */
function savedModel(config: Record<string, unknown>, labels?: string[]): SavedModel {
  const parsed = parseJobConfig({ optimizer: { adam: {} }, data: textData, ...config }, 'test');
  const model = buildModel(parsed.model, 4);
  const layout = ParamLayout.fromModel(model);
  const weights = layout.read(model);
  const random = mulberry32(23);
  for (let i = 0; i < weights.length; i++) weights[i] = weights[i]! + (random() - 0.5) * 0.6;
  layout.write(model, weights);
  const data = parsed.data;
  const inputShape = sampleShape(parsed.model, data.type === 'text' ? data.maxLength : data.features.length);
  const outputs = model.outputs[0]!.shape.at(-1)!;
  return { dir: 'test-model', model, config: parsed, inputShape, outputs, ...(labels ? { labels } : {}) };
}

/** Rows of token ids (or values in [-1, 1] for a first recurrent layer) and targets from `target`. */
function dataFor(saved: SavedModel, rows: number, target: (random: () => number) => number): Dataset {
  const random = mulberry32(rows);
  const perSample = saved.inputShape.reduce((a, b) => a * b, 1);
  const tokens = saved.config.model[0]!.type === 'embedding';
  const x = Float32Array.from({ length: rows * perSample }, () => (tokens ? Math.floor(random() * VOCABULARY) : random() * 2 - 1));
  const y = Float32Array.from({ length: rows }, () => target(random));
  return { rows, featureCount: perSample, x, y };
}

const binary = (random: () => number) => (random() < 0.5 ? 0 : 1);
const classes = (count: number) => (random: () => number) => Math.floor(random() * count);

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance = 1e-5): void {
  expect(actual.length, what).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  expect(worst, what).toBeLessThanOrEqual(tolerance);
}

const opened: Inference[] = [];
/** The fused and the tfjs inference on one saved model. */
function bothPaths(saved: SavedModel): { fused: Inference; tfjs: Inference } {
  const fused = new Inference(saved, 'cpu');
  const tfjs = new Inference(saved, 'cpu', { fused: false });
  opened.push(fused);
  return { fused, tfjs };
}

/** Predictions and evaluations of both paths agree to 1e-5, over more rows than one slice; returns the fused evaluation. */
function expectSamePaths(saved: SavedModel, target: (random: () => number) => number, rows = EVALUATION_ROWS + 37) {
  const { fused, tfjs } = bothPaths(saved);
  expect(fused.path).toBe('fused');
  expect(tfjs.path).toBe('tfjs');
  expect(tfjs.tfjsReason).toBe('the fused path was turned off');
  const data = dataFor(saved, rows, target);
  const expected = tfjs.predict(data.x, rows);
  const actual = fused.predict(data.x, rows);
  expect(actual).toHaveLength(rows * saved.outputs);
  expectClose(actual, expected, 'outputs');
  // The outputs say something: they differ from sample to sample.
  expect(new Set(Array.from(expected, (p) => p.toFixed(4))).size).toBeGreaterThan(10);
  const fusedEvaluation = fused.evaluate(data);
  const tfjsEvaluation = tfjs.evaluate(data);
  expect(fusedEvaluation.samples).toBe(rows);
  expectClose([fusedEvaluation.loss], [tfjsEvaluation.loss], 'loss');
  for (const [name, value] of Object.entries(tfjsEvaluation.metrics)) expectClose([fusedEvaluation.metrics[name]!], [value], name, 2 / rows);
  // And the loss is tfjs's own: core's evaluateSums over model.predict, in other slices.
  const x = tf.tensor(data.x, [rows, ...saved.inputShape]);
  const y = tf.tensor(data.y, [rows, 1]);
  const reference = meansOf(evaluateSums(saved.model, saved.config.loss, saved.config.metrics, x, y, 100), saved.config.metrics);
  tf.dispose([x, y]);
  expectClose([tfjsEvaluation.loss], [reference.loss], 'loss against evaluateSums');
  for (const [name, value] of Object.entries(reference.metrics)) expectClose([tfjsEvaluation.metrics[name]!], [value], `${name} against evaluateSums`);
  return fusedEvaluation;
}

describe('Inference on a saved model: the fused forward path equals tfjs model.predict', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });
  afterEach(() => {
    for (const inference of opened.splice(0)) inference.dispose();
  });

  it('Embedding -> LSTM -> LSTM -> Dense(1, sigmoid), binary cross-entropy with accuracy, auc, precision and recall', () => {
    const saved = savedModel({
      model: [
        { type: 'embedding', inputDim: VOCABULARY, outputDim: 6 },
        { type: 'lstm', units: 8, returnSequences: true },
        { type: 'lstm', units: 5 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binaryCrossentropy',
      metrics: ['accuracy', 'auc', 'precision', 'recall'],
    }, ['0', '1']);
    const evaluation = expectSamePaths(saved, binary);
    expect(evaluation.metrics.auc).toBeGreaterThan(0);
    expect(evaluation.classes!.map((c) => c.label)).toEqual(['0', '1']);
  });

  it('Embedding -> bidirectional GRU -> dropout -> Dense(relu) -> Dense(4, softmax), sparse categorical cross-entropy, with per-class counts', () => {
    const layers: LayerSpec[] = [
      { type: 'embedding', inputDim: VOCABULARY, outputDim: 6 },
      { type: 'bidirectional', layer: { type: 'gru', units: 5, returnSequences: true, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false }, mergeMode: 'concat' },
      { type: 'gru', units: 6, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false },
      { type: 'dropout', rate: 0.5 },
      { type: 'dense', units: 8, activation: 'relu', useBias: true },
      { type: 'dense', units: 4, activation: 'softmax', useBias: true },
    ];
    const labels = ['ham', 'spam', 'news', 'list'];
    const saved = savedModel({ model: layers, loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'] }, labels);
    const evaluation = expectSamePaths(saved, classes(4));
    const counts = evaluation.classes!;
    expect(counts.map((c) => c.label)).toEqual(labels);
    const total = (key: 'samples' | 'predicted' | 'correct') => counts.reduce((n, c) => n + c[key], 0);
    expect(total('samples')).toBe(evaluation.samples);
    expect(total('predicted')).toBe(evaluation.samples);
    // Per-class hits add up to accuracy.
    expect(total('correct') / evaluation.samples).toBeCloseTo(evaluation.metrics.accuracy!, 12);
    for (const c of counts) expect(c.correct).toBeLessThanOrEqual(Math.min(c.samples, c.predicted));
  });

  it('a bidirectional LSTM reading float sequences (inputShape [timesteps, features]), mean squared error', () => {
    const saved = savedModel({
      model: [
        { type: 'bidirectional', layer: { type: 'lstm', units: 4, returnSequences: true }, mergeMode: 'ave', inputShape: [5, 3] },
        { type: 'globalMaxPooling1d' },
        { type: 'dense', units: 1 },
      ],
      loss: 'meanSquaredError',
      metrics: ['mae'],
      data: { type: 'table', path: 'rows.csv', features: Array.from({ length: 15 }, (_, i) => `f${i}`), target: 'y' },
    });
    expect(saved.inputShape).toEqual([5, 3]);
    const evaluation = expectSamePaths(saved, (random) => random() * 4 - 2, 300);
    expect(evaluation.classes).toBeUndefined();
  });

  it('takes tfjs for a dense-only model, and says why', () => {
    const saved = savedModel({
      model: [
        { type: 'dense', units: 6, activation: 'relu', inputShape: [3] },
        { type: 'dense', units: 1 },
      ],
      loss: 'huber',
      metrics: ['mae'],
      data: { type: 'table', path: 'rows.csv', features: ['a', 'b', 'c'], target: 'y' },
    });
    const inference = new Inference(saved, 'cpu');
    opened.push(inference);
    expect(inference.path).toBe('tfjs');
    expect(inference.tfjsReason).toMatch(/^model\[0\] \(dense\) starts a model without an embedding or recurrent layer/);
    const data = dataFor(saved, 20, (random) => random());
    const outputs = inference.predict(data.x, data.rows);
    const expected = tf.tidy(() => (saved.model.predict(tf.tensor2d(data.x, [20, 3])) as tf.Tensor).dataSync());
    expect(Array.from(outputs)).toEqual(Array.from(expected));
  });

  it('refuses input of the wrong size, naming the shape', () => {
    const saved = savedModel({
      model: [
        { type: 'embedding', inputDim: VOCABULARY, outputDim: 4 },
        { type: 'lstm', units: 3 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binaryCrossentropy',
    });
    const inference = new Inference(saved, 'cpu');
    opened.push(inference);
    expect(() => inference.predict(new Float32Array(LENGTH * 2 + 1), 2)).toThrow(`2 samples of input [${LENGTH}] need ${2 * LENGTH} values, got ${2 * LENGTH + 1}`);
  });
});
