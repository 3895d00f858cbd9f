import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { LossName } from '../config/names.js';
import type { LayerSpec } from '../config/schema.js';
import { mulberry32 } from '../rng.js';
import { buildModel } from './buildModel.js';
import { evaluateSums, meansOf, perSampleLoss } from './losses.js';
import { addMetricStatistics, emptyMetricStatistics, finalizeMetrics } from './metrics.js';

const ROWS = 23;
const FEATURES = 3;

function data(seed: number, C: number, regression: boolean): { x: tf.Tensor2D; y: tf.Tensor2D } {
  const random = mulberry32(seed);
  const x = tf.tensor2d(
    Float32Array.from({ length: ROWS * FEATURES }, () => random() * 2 - 1),
    [ROWS, FEATURES],
  );
  const y = tf.tensor2d(
    Float32Array.from({ length: ROWS }, () => (regression ? random() * 4 - 2 : Math.floor(random() * Math.max(C, 2)))),
    [ROWS, 1],
  );
  return { x, y };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>): void {
  expect(actual.length).toBe(expected.length);
  for (let k = 0; k < expected.length; k++) expect(actual[k]!, `element ${k}`).toBeCloseTo(expected[k]!, 6);
}

const model = (units: number, activation: 'sigmoid' | 'softmax' | 'linear') => {
  const layers: LayerSpec[] = [
    { type: 'dense', units: 4, activation: 'tanh', useBias: true, inputShape: [FEATURES] },
    { type: 'dense', units, activation, useBias: true },
  ];
  return buildModel(layers, 3);
};

describe('perSampleLoss and evaluateSums', () => {
  // What model.evaluate reports for the same loss name is the batch mean that model.fit minimises.
  const cases: { loss: LossName; units: number; activation: 'sigmoid' | 'softmax' | 'linear'; regression: boolean }[] = [
    { loss: 'meanSquaredError', units: 1, activation: 'linear', regression: true },
    { loss: 'meanAbsoluteError', units: 1, activation: 'linear', regression: true },
    { loss: 'binaryCrossentropy', units: 1, activation: 'sigmoid', regression: false },
    { loss: 'sparseCategoricalCrossentropy', units: 3, activation: 'softmax', regression: false },
    { loss: 'categoricalCrossentropy', units: 3, activation: 'softmax', regression: false },
  ];
  for (const { loss, units, activation, regression } of cases) {
    it(`${loss}: the mean equals model.evaluate's`, () => {
      const m = model(units, activation);
      const { x, y } = data(loss.length, units, regression);
      // categoricalCrossentropy takes one-hot rows in tfjs; Adamant's targets stay class indices.
      const fitTargets = loss === 'categoricalCrossentropy' ? tf.oneHot(tf.cast(y.reshape([-1]), 'int32'), units) : y;
      m.compile({ optimizer: 'sgd', loss });
      const expected = (m.evaluate(x, fitTargets, { batchSize: ROWS }) as tf.Scalar).dataSync()[0]!;
      const sums = evaluateSums(m, loss, [], x, y, 5);
      expect(sums.samples).toBe(ROWS);
      expect(meansOf(sums, []).loss).toBeCloseTo(expected, 6);
      m.dispose();
    });
  }

  it("huber: Keras's definition with delta 1, against tf.losses.huberLoss per element", () => {
    const random = mulberry32(4);
    const pred = tf.tensor2d(
      Float32Array.from({ length: 12 }, () => random() * 6 - 3),
      [4, 3],
    );
    // Several outputs: against the one-hot rows of the class indices, mean over the row.
    const oneHot = tf.oneHot(tf.tensor1d([0, 2, 1, 1], 'int32'), 3);
    const expectedRows = tf.losses.huberLoss(oneHot, pred, undefined, 1, tf.Reduction.NONE).mean(-1).dataSync();
    expectClose(perSampleLoss('huber', tf.tensor2d([0, 2, 1, 1], [4, 1]), pred).dataSync(), expectedRows);
    // One output: against the target itself; errors of 0.5 to 4, on both sides of delta.
    const targets = tf.tensor2d([0.5, -2, 3, 0], [4, 1]);
    const column = pred.slice([0, 0], [4, 1]);
    expectClose(perSampleLoss('huber', targets, column).dataSync(), tf.losses.huberLoss(targets, column, undefined, 1, tf.Reduction.NONE).dataSync());
  });

  it('sums metric statistics over slices as over the whole set, and finalises them', () => {
    const m = model(1, 'sigmoid');
    const { x, y } = data(9, 1, false);
    const metrics = ['accuracy', 'auc', 'precision'] as const;
    const sliced = evaluateSums(m, 'binaryCrossentropy', metrics, x, y, 4);
    const whole = emptyMetricStatistics(metrics);
    addMetricStatistics(metrics, (m.predict(x) as tf.Tensor).dataSync(), y.dataSync(), ROWS, 1, whole);
    expect(sliced.metricSums).toEqual(whole);
    expect(meansOf(sliced, metrics).metrics).toEqual(finalizeMetrics(metrics, whole, ROWS));
    m.dispose();
  });
});
