import * as tf from '@tensorflow/tfjs';
import type { LossName, MetricName } from '../config/names.js';
import { addMetricStatistics, emptyMetricStatistics, finalizeMetrics } from './metrics.js';
import { HUBER_DELTA } from './objective.js';

/** tfjs-layers' fuzz factor (`epsilon()`), the clip of probabilities inside the cross-entropies. */
const EPSILON = 1e-7;

/**
 * Per-sample losses, the functions tfjs-layers' `model.fit` uses for these names. Summing them over
 * a chunk (and the server dividing by the batch size) gives exactly the batch mean that `model.fit`
 * minimises. objective.ts computes the same losses on typed arrays for the fused paths.
 *
 * `yTrue` is [B, 1]: one number per sample (the regression target, 0/1, or a class index); `yPred`
 * is the head's output [B, C]. With C > 1, every loss but the sparse one compares with the one-hot
 * row of the class index, so categoricalCrossentropy takes the same targets as the sparse loss.
 */
export function perSampleLoss(loss: LossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  return tf.tidy(() => {
    if (loss === 'sparseCategoricalCrossentropy') return sparseCategoricalCrossentropy(yTrue, yPred);
    const target = targetRows(yTrue, yPred);
    switch (loss) {
      case 'meanSquaredError':
        return tf.metrics.meanSquaredError(target, yPred) as tf.Tensor1D;
      case 'meanAbsoluteError':
        return tf.metrics.meanAbsoluteError(target, yPred) as tf.Tensor1D;
      case 'huber':
        return huber(target, yPred);
      case 'binaryCrossentropy':
        return tf.metrics.binaryCrossentropy(target, yPred) as tf.Tensor1D;
      case 'categoricalCrossentropy':
        return tf.metrics.categoricalCrossentropy(target, yPred) as tf.Tensor1D;
    }
  });
}

/**
 * The chunk's loss sum: the per-sample losses summed, each first multiplied by its weight when
 * `weights` ([B], Keras's sample_weight) is given, as tfjs-layers' computeWeightedLoss does
 * before its mean. Without weights the sum is the plain one, op for op as before.
 */
export function lossSum(loss: LossName, yTrue: tf.Tensor, yPred: tf.Tensor, weights?: tf.Tensor): tf.Scalar {
  return tf.tidy(() => {
    const losses = perSampleLoss(loss, yTrue, yPred);
    return (weights ? tf.mul(losses, tf.reshape(weights, [-1])) : losses).sum() as tf.Scalar;
  });
}

/** The number of outputs per sample of a prediction [B, C]. */
const outputsOf = (yPred: tf.Tensor): number => yPred.shape[yPred.rank - 1] ?? 1;

/** yTrue itself for one output, else the one-hot rows [B, C] of the class indices in yTrue. */
function targetRows(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor {
  const C = outputsOf(yPred);
  return C === 1 ? yTrue : tf.cast(tf.oneHot(tf.cast(tf.reshape(yTrue, [-1]), 'int32'), C), 'float32');
}

/** tfjs-layers' sparseCategoricalCrossentropy: clip, one-hot of the index, then categoricalCrossentropy (which renormalises and clips again). */
function sparseCategoricalCrossentropy(yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  const classes = tf.cast(tf.floor(tf.reshape(yTrue, [-1])), 'int32');
  const clipped = tf.clipByValue(yPred, EPSILON, 1 - EPSILON);
  return tf.metrics.categoricalCrossentropy(tf.reshape(tf.oneHot(classes, outputsOf(yPred)), clipped.shape), clipped) as tf.Tensor1D;
}

/**
 * Keras's Huber loss, 0.5 e² where |e| ≤ delta and delta (|e| - delta / 2) beyond, mean over the
 * outputs; written with minimum (as tf.losses.huberLoss) because a tf.where on |e| ≤ delta would
 * put LessEqual, which has no gradient, on the tape.
 */
function huber(target: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  const size = tf.abs(tf.sub(yPred, target));
  const quadratic = tf.minimum(size, HUBER_DELTA);
  const linear = tf.sub(size, quadratic);
  return tf.mean(tf.add(tf.mul(0.5, tf.square(quadratic)), tf.mul(HUBER_DELTA, linear)), -1) as tf.Tensor1D;
}

export interface EvalSums {
  samples: number;
  lossSum: number;
  /** The metrics' additive statistics (metrics.ts), metricStatisticsLength(metrics) of them. */
  metricSums: number[];
}

/** Mean loss per sample and the metrics' values, from sums (statistics in the config's metric order). */
export function meansOf(sums: EvalSums, metrics: readonly MetricName[]): { loss: number; metrics: Record<string, number> } {
  return { loss: sums.lossSum / sums.samples, metrics: finalizeMetrics(metrics, sums.metricSums, sums.samples) };
}

/**
 * Loss sum and metric statistics of a model over a dataset (y: [rows, 1]), in slices of
 * `sliceRows` (inference only). Used for validation and by `adamant evaluate`.
 */
export function evaluateSums(
  model: tf.LayersModel,
  loss: LossName,
  metrics: readonly MetricName[],
  x: tf.Tensor,
  y: tf.Tensor,
  sliceRows = 512,
): EvalSums {
  const rows = x.shape[0] ?? 0;
  const sums: EvalSums = { samples: rows, lossSum: 0, metricSums: emptyMetricStatistics(metrics) };
  const targets = y.dataSync();
  for (let start = 0; start < rows; start += sliceRows) {
    const size = Math.min(sliceRows, rows - start);
    tf.tidy(() => {
      const pred = model.predict(x.slice(start, size)) as tf.Tensor;
      sums.lossSum += perSampleLoss(loss, y.slice(start, size), pred).sum().dataSync()[0]!;
      if (metrics.length > 0) addMetricStatistics(metrics, pred.dataSync(), targets.subarray(start, start + size), size, outputsOf(pred), sums.metricSums);
    });
  }
  return sums;
}
