import type { WorkerJob } from '@adamant/core';

/**
 * The fused LSTM path's head: dense(1) on the top LSTM's last hidden state, then the loss, the
 * metrics and d(loss)/d(pre-activation) per sample, written out for each name it implements.
 * Any other loss, metric or activation sends the model to autodiff (see fusedLstmSupport).
 */

/** The losses the fused head implements. */
export const FUSED_LOSSES = ['binaryCrossentropy', 'meanSquaredError'] as const satisfies readonly WorkerJob['loss'][];
/** The metrics the fused head implements. */
export const FUSED_METRICS = ['accuracy', 'mae'] as const satisfies readonly WorkerJob['metrics'][number][];
/** The activations of the dense(1) head that the fused head implements. */
export const FUSED_HEAD_ACTIVATIONS = ['linear', 'sigmoid'] as const;

export type FusedLoss = (typeof FUSED_LOSSES)[number];
export type FusedMetric = (typeof FUSED_METRICS)[number];
export type FusedHeadActivation = (typeof FUSED_HEAD_ACTIVATIONS)[number];

export const isFusedLoss = (name: string): name is FusedLoss => (FUSED_LOSSES as readonly string[]).includes(name);
export const isFusedMetric = (name: string): name is FusedMetric => (FUSED_METRICS as readonly string[]).includes(name);
export const isFusedHeadActivation = (name: string): name is FusedHeadActivation => (FUSED_HEAD_ACTIVATIONS as readonly string[]).includes(name);

/** What the head computes, as fusedLstmSupport found it in the job. */
export interface FusedHeadSpec {
  activation: FusedHeadActivation;
  loss: FusedLoss;
  metrics: readonly FusedMetric[];
}

export interface HeadForward {
  lossSum: number;
  /** In the order of the spec's metrics. */
  metricSums: number[];
  /** d(loss sum)/d(head pre-activation), per sample. */
  dLogits: Float32Array;
}

/** The logistic function, as the head and the LSTM gates compute it. */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

/** The float32 clip tfjs applies to probabilities inside binary cross-entropy. */
const EPSILON = Math.fround(1e-7);
const ONE_MINUS_EPSILON = Math.fround(1 - 1e-7);

/** Thrown from a switch's default: reached only when a name is listed above but not implemented. */
function unimplemented(name: never, what: string): never {
  throw new Error(`the fused head has no ${what} ${String(name)}`);
}

/**
 * Loss, metrics and d(loss sum)/d(head pre-activation) per sample. `last` holds the top LSTM's
 * last hidden state, [B, H]; `kernel` and `bias` are the head's weights.
 */
export function headForward(spec: FusedHeadSpec, kernel: Float32Array, bias: number, last: Float32Array, y: Float32Array, B: number, H: number): HeadForward {
  const dLogits = new Float32Array(B);
  let lossSum = 0;
  const metricSums = spec.metrics.map(() => 0);
  for (let b = 0; b < B; b++) {
    let z = bias;
    for (let j = 0; j < H; j++) z += last[b * H + j]! * kernel[j]!;
    const target = y[b]!;
    const p = activate(spec.activation, z);
    switch (spec.loss) {
      case 'binaryCrossentropy': {
        // tfjs clips p to [eps, 1 - eps], takes the logit and uses the stable logistic loss.
        const clipped = Math.min(Math.max(p, EPSILON), ONE_MINUS_EPSILON);
        const logit = Math.log(clipped / (1 - clipped));
        lossSum += Math.max(logit, 0) - logit * target + Math.log1p(Math.exp(-Math.abs(logit)));
        const inside = Math.fround(p) >= EPSILON && Math.fround(p) <= ONE_MINUS_EPSILON;
        dLogits[b] = inside ? p - target : 0;
        break;
      }
      case 'meanSquaredError':
        lossSum += (p - target) ** 2;
        dLogits[b] = throughActivation(spec.activation, p, 2 * (p - target));
        break;
      default:
        unimplemented(spec.loss, 'loss');
    }
    for (let m = 0; m < metricSums.length; m++) metricSums[m] = metricSums[m]! + sampleMetric(spec.metrics[m]!, p, target);
  }
  return { lossSum, metricSums, dLogits };
}

/** The head's output p from its pre-activation z. */
function activate(activation: FusedHeadActivation, z: number): number {
  switch (activation) {
    case 'sigmoid':
      return sigmoid(z);
    case 'linear':
      return z;
    default:
      return unimplemented(activation, 'activation');
  }
}

/** d/dz from dp = d/dp, given the head's output p. */
function throughActivation(activation: FusedHeadActivation, p: number, dp: number): number {
  switch (activation) {
    case 'sigmoid':
      return dp * p * (1 - p);
    case 'linear':
      return dp;
    default:
      return unimplemented(activation, 'activation');
  }
}

/** One sample's term of a metric's sum. */
function sampleMetric(metric: FusedMetric, p: number, target: number): number {
  switch (metric) {
    case 'accuracy':
      return Number((p > 0.5 ? 1 : 0) === target);
    case 'mae':
      return Math.abs(p - target);
    default:
      return unimplemented(metric, 'metric');
  }
}
