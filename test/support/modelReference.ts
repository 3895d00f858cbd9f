import * as tf from '@tensorflow/tfjs';
import { loadModel, prepareData, type JobConfig } from '@adamant/core';

/**
 * tfjs `model.fit` as the yardstick for every loss the config offers, from a saved model's
 * weights, on the job's training split, unshuffled, with the job's Adam and batch size. Targets
 * are shaped as tfjs-layers wants them for each loss (the one-hot rows for
 * categoricalCrossentropy), and huber, which tfjs-layers has no name for, is tf.losses.huberLoss.
 */
export async function fitFromInit(config: JobConfig, initDir: string, epochs: number): Promise<Float32Array[]> {
  const data = prepareData(config);
  const model = await loadModel(initDir);
  const optimizer = config.optimizer;
  // The jobs here train with Adam at a constant learning rate, which tf.train.adam reproduces.
  if (optimizer.type !== 'adam' || typeof optimizer.learningRate !== 'number') throw new Error('fitFromInit needs Adam with a constant learning rate');
  const { beta1, beta2, epsilon } = optimizer;
  const learningRate = optimizer.learningRate;
  const classes = (model.outputs[0]!.shape.at(-1) as number | null) ?? 1;
  model.compile({ optimizer: tf.train.adam(learningRate, beta1, beta2, epsilon), loss: referenceLoss(config.loss) });
  const inputShape = (model.inputs[0]!.shape as (number | null)[]).slice(1) as number[];
  const x = tf.tensor(data.train.x, [data.train.rows, ...inputShape]);
  const indices = tf.tensor2d(data.train.y, [data.train.rows, 1]);
  const y = config.loss === 'categoricalCrossentropy' ? tf.oneHot(tf.cast(tf.reshape(indices, [-1]), 'int32'), classes).cast('float32') : indices;
  await model.fit(x, y, { batchSize: config.batchSize, epochs, shuffle: false, verbose: 0 });
  const weights = model.getWeights().map((w) => w.dataSync() as Float32Array);
  tf.dispose([x, y, indices]);
  model.dispose();
  return weights;
}

type LossFunction = (yTrue: tf.Tensor, yPred: tf.Tensor) => tf.Tensor;

function referenceLoss(loss: JobConfig['loss']): string | LossFunction {
  if (loss !== 'huber') return loss;
  // Keras's Huber(delta=1): the mean over the outputs of tfjs's elementwise huber loss.
  return (yTrue, yPred) => tf.mean(tf.losses.huberLoss(yTrue, yPred, undefined, 1, tf.Reduction.NONE), -1);
}

/** The largest |a - e| / max(1, |e|) over every weight, after checking the two lists have the same shapes. */
export function worstRelativeDifference(actual: readonly Float32Array[], expected: readonly Float32Array[]): number {
  if (actual.length !== expected.length) throw new Error(`${actual.length} weights against ${expected.length}`);
  let worst = 0;
  actual.forEach((a, i) => {
    const e = expected[i]!;
    if (a.length !== e.length) throw new Error(`weight ${i} has ${a.length} values against ${e.length}`);
    for (let j = 0; j < a.length; j++) worst = Math.max(worst, Math.abs(a[j]! - e[j]!) / Math.max(1, Math.abs(e[j]!)));
  });
  return worst;
}

/** The largest |a - b| over two weight lists of the same shapes: how far training moved the weights. */
export function largestChange(after: readonly Float32Array[], before: readonly Float32Array[]): number {
  let largest = 0;
  after.forEach((a, i) => {
    for (let j = 0; j < a.length; j++) largest = Math.max(largest, Math.abs(a[j]! - before[i]![j]!));
  });
  return largest;
}

/**
 * A sigmoid head's metrics over a whole set, computed directly: accuracy, precision and recall
 * at 0.5, and Keras's AUC() (ROC, 200 thresholds held as float32, a score counts above a threshold
 * when strictly greater, trapezoids between thresholds).
 */
export function binaryMetrics(probabilities: ArrayLike<number>, labels: ArrayLike<number>): { auc: number; precision: number; recall: number; accuracy: number } {
  const n = probabilities.length;
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const countAbove = (threshold: number) => {
    let tp = 0;
    let fp = 0;
    for (let i = 0; i < n; i++) {
      if (probabilities[i]! > threshold) {
        if (labels[i] === 1) tp++;
        else fp++;
      }
    }
    return { tp, fp };
  };
  let positives = 0;
  let right = 0;
  for (let i = 0; i < n; i++) {
    positives += labels[i] === 1 ? 1 : 0;
    right += (probabilities[i]! > 0.5 ? 1 : 0) === labels[i] ? 1 : 0;
  }
  const negatives = n - positives;
  const thresholds = [-1e-7, ...Array.from({ length: 198 }, (_, i) => (i + 1) / 199), 1 + 1e-7].map(Math.fround);
  const curve = thresholds.map((t) => {
    const { tp, fp } = countAbove(t);
    return { tpr: ratio(tp, positives), fpr: ratio(fp, negatives) };
  });
  let auc = 0;
  for (let i = 0; i + 1 < curve.length; i++) auc += ((curve[i]!.fpr - curve[i + 1]!.fpr) * (curve[i]!.tpr + curve[i + 1]!.tpr)) / 2;
  const atHalf = countAbove(0.5);
  return { auc, precision: ratio(atHalf.tp, atHalf.tp + atHalf.fp), recall: ratio(atHalf.tp, positives), accuracy: right / n };
}
