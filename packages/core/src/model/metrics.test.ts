import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { MetricName } from '../config/names.js';
import { mulberry32 } from '../rng.js';
import { AUC_THRESHOLDS, addMetricStatistics, emptyMetricStatistics, finalizeMetrics, metricStatisticsLength } from './metrics.js';

/** The metrics' values over one batch: statistics of the whole batch, finalised. */
function metricValues(metrics: readonly MetricName[], p: ArrayLike<number>, y: ArrayLike<number>, B: number, C: number): Record<string, number> {
  const stats = emptyMetricStatistics(metrics);
  addMetricStatistics(metrics, p, y, B, C, stats);
  return finalizeMetrics(metrics, stats, B);
}

/** B float32 scores in [0, 1] and 0/1 labels, seeded; about `positives` of them positive. */
function binaryBatch(seed: number, B: number, positives = 0.4): { p: Float32Array; y: Float32Array } {
  const random = mulberry32(seed);
  const p = new Float32Array(B);
  const y = new Float32Array(B);
  for (let b = 0; b < B; b++) {
    y[b] = random() < positives ? 1 : 0;
    // Scores that lean towards the label, so the AUC is neither 0.5 nor 1.
    p[b] = Math.min(1, Math.max(0, random() * 0.8 + y[b]! * 0.2));
  }
  return { p, y };
}

/**
 * Keras's `tf.keras.metrics.AUC(num_thresholds=200, curve='ROC', summation_method='interpolation')`
 * transcribed literally: float32 thresholds [0 - eps, (i + 1) / (n - 1) for i < n - 2, 1 + eps],
 * confusion counts per threshold with `y_pred > threshold`, then
 * sum((fpr[:-1] - fpr[1:]) * (tpr[:-1] + tpr[1:]) / 2) with divide_no_nan.
 */
function kerasAuc(p: ArrayLike<number>, y: ArrayLike<number>): number {
  const n = 200;
  const epsilon = 1e-7;
  const thresholds = Float32Array.from([0 - epsilon, ...Array.from({ length: n - 2 }, (_, i) => ((i + 1) * 1.0) / (n - 1)), 1 + epsilon]);
  const tp = new Array<number>(n).fill(0);
  const fp = new Array<number>(n).fill(0);
  const tn = new Array<number>(n).fill(0);
  const fn = new Array<number>(n).fill(0);
  for (let i = 0; i < n; i++) {
    for (let b = 0; b < p.length; b++) {
      const predicted = p[b]! > thresholds[i]!;
      const actual = y[b] === 1;
      if (predicted && actual) tp[i]!++;
      else if (predicted) fp[i]!++;
      else if (actual) fn[i]!++;
      else tn[i]!++;
    }
  }
  const divideNoNan = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const recall = tp.map((t, i) => divideNoNan(t, t + fn[i]!));
  const fpRate = fp.map((f, i) => divideNoNan(f, f + tn[i]!));
  let area = 0;
  for (let i = 0; i < n - 1; i++) area += (fpRate[i]! - fpRate[i + 1]!) * ((recall[i]! + recall[i + 1]!) / 2);
  return area;
}

describe('metric statistics', () => {
  it('size the wire: one slot for accuracy and mae, two for precision and recall, two per threshold for auc', () => {
    expect(metricStatisticsLength([])).toBe(0);
    expect(metricStatisticsLength(['accuracy', 'mae'])).toBe(2);
    expect(metricStatisticsLength(['precision', 'recall'])).toBe(4);
    expect(metricStatisticsLength(['auc', 'accuracy'])).toBe(2 * AUC_THRESHOLDS + 1);
  });

  it('accuracy: the thresholded match for one output, the argmax match for several, as tf.metrics counts them', () => {
    const p1 = Float32Array.of(0.9, 0.5, 0.2, 0.51, 0.49);
    const y1 = Float32Array.of(1, 0, 0, 0, 1);
    // p > 0.5 predicts 1: rows 0, 1 (0.5 is not above) and 2 match.
    expect(metricValues(['accuracy'], p1, y1, 5, 1).accuracy).toBe(3 / 5);
    const binary = tf.metrics
      .binaryAccuracy(tf.tensor2d(y1, [5, 1]), tf.tensor2d(p1, [5, 1]))
      .sum()
      .dataSync()[0]!;
    expect(metricValues(['accuracy'], p1, y1, 5, 1).accuracy).toBe(binary / 5);

    const p3 = Float32Array.of(0.1, 0.7, 0.2, 0.4, 0.4, 0.2, 0.3, 0.3, 0.4, 0.5, 0.2, 0.3);
    const y3 = Float32Array.of(0, 0, 2, 1);
    // argmax: 1, 0 (a tie takes the first), 2, 0: rows 1 and 2 match.
    expect(metricValues(['accuracy'], p3, y3, 4, 3).accuracy).toBe(2 / 4);
    const sparse = tf.metrics
      .sparseCategoricalAccuracy(tf.tensor2d(y3, [4, 1]), tf.tensor2d(p3, [4, 3]))
      .sum()
      .dataSync()[0]!;
    expect(metricValues(['accuracy'], p3, y3, 4, 3).accuracy).toBe(sparse / 4);
  });

  it('mae: the mean absolute error per sample, against the one-hot row for several outputs, as tf.metrics.meanAbsoluteError', () => {
    const random = mulberry32(5);
    const p1 = Float32Array.from({ length: 7 }, () => random() * 4 - 2);
    const y1 = Float32Array.from({ length: 7 }, () => random() * 4 - 2);
    const expected1 = tf.metrics
      .meanAbsoluteError(tf.tensor2d(y1, [7, 1]), tf.tensor2d(p1, [7, 1]))
      .mean()
      .dataSync()[0]!;
    expect(metricValues(['mae'], p1, y1, 7, 1).mae).toBeCloseTo(expected1, 6);

    const p3 = Float32Array.from({ length: 18 }, () => random());
    const y3 = Float32Array.from({ length: 6 }, () => Math.floor(random() * 3));
    const oneHot = tf.oneHot(tf.tensor1d(y3, 'int32'), 3);
    const expected3 = tf.metrics
      .meanAbsoluteError(oneHot, tf.tensor2d(p3, [6, 3]))
      .mean()
      .dataSync()[0]!;
    expect(metricValues(['mae'], p3, y3, 6, 3).mae).toBeCloseTo(expected3, 6);
  });

  it('precision and recall: counted over the batch, 0 when nothing is predicted or actually positive', () => {
    const { p, y } = binaryBatch(7, 101);
    let truePositives = 0;
    let predicted = 0;
    let actual = 0;
    for (let b = 0; b < 101; b++) {
      if (p[b]! > 0.5) predicted++;
      if (y[b] === 1) actual++;
      if (p[b]! > 0.5 && y[b] === 1) truePositives++;
    }
    expect(truePositives).toBeGreaterThan(0);
    const values = metricValues(['precision', 'recall'], p, y, 101, 1);
    expect(values.precision).toBe(truePositives / predicted);
    expect(values.recall).toBe(truePositives / actual);
    expect(metricValues(['precision', 'recall'], Float32Array.of(0.1, 0.2), Float32Array.of(0, 0), 2, 1)).toEqual({ precision: 0, recall: 0 });
  });

  it('auc: equals a literal transcription of Keras AUC (200 thresholds, ROC, interpolation) on random scores', () => {
    for (const [seed, B, positives] of [
      [1, 1000, 0.4],
      [2, 37, 0.5],
      [3, 500, 0.05],
      [4, 64, 0.9],
    ] as const) {
      const { p, y } = binaryBatch(seed, B, positives);
      const expected = kerasAuc(p, y);
      expect(expected).toBeGreaterThan(0.55);
      expect(expected).toBeLessThan(1);
      expect(Math.abs(metricValues(['auc'], p, y, B, 1).auc! - expected), `seed ${seed}`).toBeLessThanOrEqual(1e-6);
    }
  });

  it('auc: scores at 0, at 1 and exactly at a (float32) threshold count as Keras counts them', () => {
    const thresholdScores = Array.from({ length: 198 }, (_, i) => Math.fround((i + 1) / 199));
    const p = Float32Array.from([0, 1, 0.5, ...thresholdScores, ...thresholdScores.map((t) => Math.fround(t + 1e-7))]);
    const y = Float32Array.from(p, (_, b) => ((b * 7919) % 3 === 0 ? 1 : 0));
    const expected = kerasAuc(p, y);
    expect(Math.abs(metricValues(['auc'], p, y, p.length, 1).auc! - expected)).toBeLessThanOrEqual(1e-6);
  });

  it('auc: 1 for separated classes, 0 for reversed ones, 0.5 for one score everywhere', () => {
    const y = Float32Array.of(0, 0, 1, 1);
    expect(metricValues(['auc'], Float32Array.of(0.1, 0.2, 0.8, 0.9), y, 4, 1).auc).toBeCloseTo(1, 12);
    expect(metricValues(['auc'], Float32Array.of(0.9, 0.8, 0.2, 0.1), y, 4, 1).auc).toBeCloseTo(0, 12);
    expect(metricValues(['auc'], Float32Array.of(0.3, 0.3, 0.3, 0.3), y, 4, 1).auc).toBeCloseTo(0.5, 12);
  });

  it('are additive: the statistics of two halves, summed, are those of the whole batch', () => {
    const metrics: MetricName[] = ['accuracy', 'mae', 'precision', 'recall', 'auc'];
    const { p, y } = binaryBatch(9, 301);
    const whole = emptyMetricStatistics(metrics);
    addMetricStatistics(metrics, p, y, 301, 1, whole);
    const halves = emptyMetricStatistics(metrics);
    addMetricStatistics(metrics, p.subarray(0, 150), y.subarray(0, 150), 150, 1, halves);
    addMetricStatistics(metrics, p.subarray(150), y.subarray(150), 151, 1, halves);
    // Counts are exact; mae's slot (index 1) is a float sum, grouped differently.
    expect(halves.filter((_, i) => i !== 1)).toEqual(whole.filter((_, i) => i !== 1));
    expect(halves[1]).toBeCloseTo(whole[1]!, 10);
    expect(finalizeMetrics(metrics, halves, 301).auc).toBe(finalizeMetrics(metrics, whole, 301).auc);

    const random = mulberry32(10);
    const p3 = Float32Array.from({ length: 3 * 40 }, () => random());
    const y3 = Float32Array.from({ length: 40 }, () => Math.floor(random() * 3));
    const whole3 = emptyMetricStatistics(['accuracy']);
    addMetricStatistics(['accuracy'], p3, y3, 40, 3, whole3);
    const halves3 = emptyMetricStatistics(['accuracy']);
    addMetricStatistics(['accuracy'], p3.subarray(0, 3 * 17), y3.subarray(0, 17), 17, 3, halves3);
    addMetricStatistics(['accuracy'], p3.subarray(3 * 17), y3.subarray(17), 23, 3, halves3);
    expect(halves3).toEqual(whole3);
  });
});
