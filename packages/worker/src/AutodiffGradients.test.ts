import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { addMetricStatistics, buildModel, emptyMetricStatistics, mulberry32, ParamLayout, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';

const SAMPLES = 9;
const LENGTH = 6;

const multiClass: WorkerJob = {
  layers: [
    { type: 'embedding', inputDim: 20, outputDim: 4, inputLength: LENGTH },
    {
      type: 'bidirectional',
      layer: { type: 'gru', units: 3, returnSequences: true, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false },
      mergeMode: 'concat',
    },
    { type: 'globalAveragePooling1d' },
    { type: 'dense', units: 3, activation: 'softmax', useBias: true },
  ],
  loss: 'sparseCategoricalCrossentropy',
  metrics: ['accuracy'],
  backend: 'cpu',
  seed: 4,
  inputShape: [LENGTH],
  paramCount: 0,
};

const binary: WorkerJob = {
  ...multiClass,
  layers: [
    { type: 'embedding', inputDim: 20, outputDim: 4, inputLength: LENGTH },
    { type: 'gru', units: 3, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid', resetAfter: false },
    { type: 'dense', units: 1, activation: 'sigmoid', useBias: true },
  ],
  loss: 'binaryCrossentropy',
  metrics: ['accuracy', 'auc', 'precision', 'recall'],
};

function chunk(job: WorkerJob, classes: number): { job: WorkerJob; weights: Float32Array; x: Float32Array; y: Float32Array } {
  const model = buildModel(job.layers, job.seed);
  const layout = ParamLayout.fromModel(model);
  const weights = layout.read(model);
  model.dispose();
  const random = mulberry32(12);
  const x = Float32Array.from({ length: SAMPLES * LENGTH }, () => Math.floor(random() * 20));
  const y = Float32Array.from({ length: SAMPLES }, () => Math.floor(random() * classes));
  return { job: { ...job, paramCount: layout.size }, weights, x, y };
}

/** The model's predictions on the chunk (no dropout in these models, so training mode changes nothing). */
function predictions(job: WorkerJob, weights: Float32Array, x: Float32Array): Float32Array {
  const model = buildModel(job.layers, job.seed, { initialize: false });
  ParamLayout.fromModel(model).write(model, weights);
  const p = tf.tidy(() => (model.predict(tf.tensor2d(x, [SAMPLES, LENGTH])) as tf.Tensor).dataSync() as Float32Array);
  model.dispose();
  return p;
}

describe('AutodiffGradients', () => {
  for (const [name, job, classes] of [
    ['multi-class (bidirectional gru, pooling, softmax)', multiClass, 3],
    ['binary (gru, sigmoid) with auc, precision and recall', binary, 2],
  ] as const) {
    it(`${name}: the loss sum is model.evaluate's mean times the samples, and the metric statistics those of the predictions`, () => {
      const { job: sized, weights, x, y } = chunk(job, classes);
      const path = AutodiffGradients.create(sized, 'cpu');
      path.setWeights(weights);
      const result = path.compute(x, y, SAMPLES, 0);
      path.dispose();

      const model = buildModel(sized.layers, sized.seed, { initialize: false });
      ParamLayout.fromModel(model).write(model, weights);
      model.compile({ optimizer: 'sgd', loss: sized.loss });
      const evaluated = tf.tidy(
        () => (model.evaluate(tf.tensor2d(x, [SAMPLES, LENGTH]), tf.tensor2d(y, [SAMPLES, 1]), { batchSize: SAMPLES }) as tf.Scalar).dataSync()[0]!,
      );
      model.dispose();
      expect(result.lossSum / SAMPLES).toBeCloseTo(evaluated, 5);

      const expected = emptyMetricStatistics(sized.metrics);
      addMetricStatistics(sized.metrics, predictions(sized, weights, x), y, SAMPLES, classes === 2 ? 1 : classes, expected);
      expect(result.metricSums).toEqual(expected);
      expect(result.dense.some((g) => g !== 0)).toBe(true);
      expect(result.sparse?.rows.length).toBeGreaterThan(0);
    });
  }

  it('gives the same bits for the same chunk, and gradients that add up over a split chunk', () => {
    const { job, weights, x, y } = chunk(multiClass, 3);
    const path = AutodiffGradients.create(job, 'cpu');
    path.setWeights(weights);
    const whole = path.compute(x, y, SAMPLES, 0);
    expect(path.compute(x, y, SAMPLES, 0).dense).toEqual(whole.dense);
    const first = path.compute(x.subarray(0, 4 * LENGTH), y.subarray(0, 4), 4, 0);
    const rest = path.compute(x.subarray(4 * LENGTH), y.subarray(4), SAMPLES - 4, 0);
    path.dispose();
    const scale = whole.dense.reduce((m, g) => Math.max(m, Math.abs(g)), 0);
    for (let k = 0; k < whole.dense.length; k++) expect(Math.abs(first.dense[k]! + rest.dense[k]! - whole.dense[k]!)).toBeLessThanOrEqual(1e-5 * scale);
    expect(first.lossSum + rest.lossSum).toBeCloseTo(whole.lossSum, 5);
  });
});
