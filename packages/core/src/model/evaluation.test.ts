import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { LossName, MetricName } from '../config/names.js';
import { ShapeError } from '../errors.js';
import { mulberry32 } from '../rng.js';
import { activate } from './activations.js';
import { EvaluationTally } from './evaluation.js';
import { perSampleLoss } from './losses.js';
import { addMetricStatistics, emptyMetricStatistics, finalizeMetrics } from './metrics.js';

const ROWS = 41;

/** Outputs as a head gives them (float32): sigmoid or softmax probabilities, or values; and targets that fit the loss. */
function outputsAndTargets(C: number, activation: 'sigmoid' | 'softmax' | 'linear', regression: boolean, seed = C) {
  const random = mulberry32(seed);
  const z = Float32Array.from({ length: ROWS * C }, () => random() * 6 - 3);
  const outputs = activate(activation, z, ROWS, C, new Float32Array(ROWS * C));
  const y = Float32Array.from({ length: ROWS }, () => (regression ? random() * 4 - 2 : Math.floor(random() * Math.max(C, 2))));
  return { outputs, y };
}

/** tfjs's mean loss over the outputs: core's perSampleLoss, the losses model.fit minimises. */
function tfjsMeanLoss(loss: LossName, outputs: Float32Array, y: Float32Array, C: number): number {
  return tf.tidy(() => perSampleLoss(loss, tf.tensor2d(y, [ROWS, 1]), tf.tensor2d(outputs, [ROWS, C])).mean().dataSync()[0]!);
}

describe('EvaluationTally', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  const cases: { loss: LossName; C: number; activation: 'sigmoid' | 'softmax' | 'linear'; regression: boolean; metrics: MetricName[] }[] = [
    { loss: 'binaryCrossentropy', C: 1, activation: 'sigmoid', regression: false, metrics: ['accuracy', 'auc', 'precision', 'recall'] },
    { loss: 'sparseCategoricalCrossentropy', C: 4, activation: 'softmax', regression: false, metrics: ['accuracy'] },
    { loss: 'categoricalCrossentropy', C: 3, activation: 'softmax', regression: false, metrics: ['accuracy', 'mae'] },
    { loss: 'meanSquaredError', C: 1, activation: 'linear', regression: true, metrics: ['mae'] },
    { loss: 'meanAbsoluteError', C: 1, activation: 'linear', regression: true, metrics: [] },
    { loss: 'huber', C: 1, activation: 'linear', regression: true, metrics: ['mae'] },
  ];
  for (const { loss, C, activation, regression, metrics } of cases) {
    it(`${loss}: the loss of the outputs is tfjs's, the metrics are finalizeMetrics', whatever the slices`, () => {
      const { outputs, y } = outputsAndTargets(C, activation, regression);
      const whole = new EvaluationTally({ loss, metrics, outputs: C });
      whole.add(outputs, y, ROWS);
      const result = whole.result();
      expect(result.samples).toBe(ROWS);
      expect(result.loss).toBeCloseTo(tfjsMeanLoss(loss, outputs, y, C), 6);
      const stats = emptyMetricStatistics(metrics);
      addMetricStatistics(metrics, outputs, y, ROWS, C, stats);
      expect(result.metrics).toEqual(finalizeMetrics(metrics, stats, ROWS));
      // Slices of 10, 10, 10 and 11 rows: the same counts, and the loss up to float rounding.
      const sliced = new EvaluationTally({ loss, metrics, outputs: C });
      for (let start = 0; start < ROWS; start += 10) {
        const rows = Math.min(10, ROWS - start);
        sliced.add(outputs.subarray(start * C, (start + rows) * C), y.subarray(start, start + rows), rows);
      }
      expect(sliced.result().samples).toBe(ROWS);
      expect(sliced.result().loss).toBeCloseTo(result.loss, 12);
      for (const metric of metrics) expect(sliced.result().metrics[metric]).toBeCloseTo(result.metrics[metric]!, 12);
    });
  }

  it('counts, per class, the samples, the predictions and the hits: argmax for several outputs', () => {
    const tally = new EvaluationTally({ loss: 'sparseCategoricalCrossentropy', metrics: ['accuracy'], outputs: 3, labels: ['a', 'b', 'c'] });
    // Predicted: b, a (a tie between a and c goes to the first), c, c.
    const outputs = Float32Array.from([0.2, 0.7, 0.1, 0.4, 0.2, 0.4, 0.1, 0.1, 0.8, 0.3, 0.1, 0.6]);
    tally.add(outputs, Float32Array.from([1, 2, 2, 0]), 4);
    const result = tally.result();
    expect(result.classes).toEqual([
      { label: 'a', samples: 1, predicted: 1, correct: 0 },
      { label: 'b', samples: 1, predicted: 1, correct: 1 },
      { label: 'c', samples: 2, predicted: 2, correct: 1 },
    ]);
    expect(result.metrics.accuracy).toBe(0.5);
  });

  it('counts two classes for a one-unit head: class 1 above 0.5, as accuracy', () => {
    const tally = new EvaluationTally({ loss: 'binaryCrossentropy', metrics: [], outputs: 1, labels: ['ham', 'spam'] });
    tally.add(Float32Array.from([0.9, 0.5, 0.2, 0.51]), Float32Array.from([1, 1, 0, 0]), 4);
    expect(tally.result().classes).toEqual([
      { label: 'ham', samples: 2, predicted: 2, correct: 1 },
      { label: 'spam', samples: 2, predicted: 2, correct: 1 },
    ]);
  });

  it('refuses labels that do not fit the head, outputs that do not fit the rows, and an empty result', () => {
    expect(() => new EvaluationTally({ loss: 'sparseCategoricalCrossentropy', metrics: [], outputs: 3, labels: ['a', 'b'] })).toThrow(ShapeError);
    const tally = new EvaluationTally({ loss: 'meanSquaredError', metrics: [], outputs: 1 });
    expect(() => tally.add(new Float32Array(3), new Float32Array(2), 2)).toThrow('3 outputs and 2 targets for 2 samples of 1 output(s)');
    expect(() => tally.result()).toThrow('no samples to evaluate');
  });
});
