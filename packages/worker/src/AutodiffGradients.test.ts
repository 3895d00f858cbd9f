import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { addMetricStatistics, buildModel, emptyMetricStatistics, mulberry32, ParamLayout, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';
import { FusedGradients } from './fused/FusedGradients.js';

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

  describe('evaluate (forward-only chunks: validation)', () => {
    // A dropout layer: training draws masks from the chunk's seed, evaluation runs without them.
    const withDropout: WorkerJob = {
      ...binary,
      layers: [binary.layers[0]!, binary.layers[1]!, { type: 'dropout', rate: 0.5 }, binary.layers[2]!],
    };

    it('runs in inference mode: the loss sum and metric statistics of tfjs predict, the same bits every time, whatever the dropout seed', () => {
      const { job, weights, x, y } = chunk(withDropout, 2);
      const path = AutodiffGradients.create(job, 'cpu');
      path.setWeights(weights);
      const evaluated = path.evaluate(x, y, SAMPLES);
      expect(path.evaluate(x, y, SAMPLES)).toEqual(evaluated);
      // Training mode does draw dropout: two seeds, two losses; neither is the inference loss.
      const [trainedA, trainedB] = [path.compute(x, y, SAMPLES, 1).lossSum, path.compute(x, y, SAMPLES, 2).lossSum];
      expect(trainedA).not.toBe(trainedB);
      expect([trainedA, trainedB]).not.toContain(evaluated.lossSum);
      path.dispose();

      const p = predictions(job, weights, x);
      const expectedLoss = tf.tidy(() => tf.metrics.binaryCrossentropy(tf.tensor2d(y, [SAMPLES, 1]), tf.tensor2d(p, [SAMPLES, 1])).sum().dataSync()[0]!);
      expect(evaluated.lossSum / expectedLoss - 1).toBeCloseTo(0, 6);
      const expected = emptyMetricStatistics(job.metrics);
      addMetricStatistics(job.metrics, p, y, SAMPLES, 1, expected);
      expect(evaluated.metricSums).toEqual(expected);
    });

    it('agrees with the fused path\'s evaluate to 1e-5', () => {
      for (const [job, classes] of [
        [withDropout, 2],
        [multiClass, 3],
      ] as const) {
        const { job: sized, weights, x, y } = chunk(job, classes);
        const autodiff = AutodiffGradients.create(sized, 'cpu');
        const fused = new FusedGradients(sized, 'cpu');
        autodiff.setWeights(weights);
        fused.setWeights(weights);
        const [a, f] = [autodiff.evaluate(x, y, SAMPLES), fused.evaluate(x, y, SAMPLES)];
        autodiff.dispose();
        fused.dispose();
        expect(Math.abs(f.lossSum - a.lossSum)).toBeLessThanOrEqual(1e-5 * Math.abs(a.lossSum));
        expect(f.metricSums).toEqual(a.metricSums);
      }
    });
  });
});
