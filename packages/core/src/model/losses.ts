import * as tf from '@tensorflow/tfjs';
import type { LossName, MetricName } from '../config/names.js';

/**
 * Per-sample losses and metrics, the same functions tfjs-layers uses for Keras-style training.
 * Summing them over a chunk (and the server dividing by the batch size) gives exactly the batch
 * mean that `model.fit` minimises.
 */
export function perSampleLoss(loss: LossName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  switch (loss) {
    case 'meanSquaredError':
      return tf.metrics.meanSquaredError(yTrue, yPred) as tf.Tensor1D;
    case 'binaryCrossentropy':
      return tf.metrics.binaryCrossentropy(yTrue, yPred) as tf.Tensor1D;
  }
}

export function perSampleMetric(metric: MetricName, yTrue: tf.Tensor, yPred: tf.Tensor): tf.Tensor1D {
  switch (metric) {
    case 'accuracy':
      return tf.metrics.binaryAccuracy(yTrue, yPred) as tf.Tensor1D;
    case 'mae':
      return tf.metrics.meanAbsoluteError(yTrue, yPred) as tf.Tensor1D;
  }
}

export interface EvalSums {
  samples: number;
  lossSum: number;
  metricSums: number[];
}

/** Mean loss and metrics per sample, from sums (in the config's metric order). */
export function meansOf(sums: EvalSums, metrics: readonly MetricName[]): { loss: number; metrics: Record<string, number> } {
  return {
    loss: sums.lossSum / sums.samples,
    metrics: Object.fromEntries(metrics.map((m, i) => [m, sums.metricSums[i]! / sums.samples])),
  };
}

/**
 * Loss and metric sums of a model over a dataset, in slices of `sliceRows` (inference only).
 * Used for validation and by `adamant evaluate`.
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
  const sums: EvalSums = { samples: rows, lossSum: 0, metricSums: metrics.map(() => 0) };
  for (let start = 0; start < rows; start += sliceRows) {
    const size = Math.min(sliceRows, rows - start);
    tf.tidy(() => {
      const xs = x.slice(start, size);
      const ys = y.slice(start, size);
      const pred = model.predict(xs) as tf.Tensor;
      sums.lossSum += perSampleLoss(loss, ys, pred).sum().dataSync()[0]!;
      metrics.forEach((m, i) => {
        sums.metricSums[i]! += perSampleMetric(m, ys, pred).sum().dataSync()[0]!;
      });
    });
  }
  return sums;
}
