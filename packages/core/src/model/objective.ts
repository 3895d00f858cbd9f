import type { ActivationName, LossName } from '../config/names.js';
import { activate, activationBackward } from './activations.js';

/**
 * The head's activation and the loss on typed arrays: per-sample losses as tfjs-layers defines
 * them, and their gradient with respect to the head's pre-activation. The fused paths train
 * with it and inference evaluates with it, so both agree with tfjs autodiff (AutodiffGradients
 * and losses.ts) to float rounding.
 *
 * Shapes: z and p are row-major [B, C] (C = the head's units); y holds one number per sample:
 * the regression target (C = 1), 0/1 for binary cross-entropy, a class index for the
 * categorical losses (which compare against its one-hot row, so both take the same targets).
 */

/** The float32 clip tfjs applies to probabilities inside the cross-entropies. */
const EPSILON = Math.fround(1e-7);
const ONE_MINUS_EPSILON = Math.fround(1 - 1e-7);

/** Keras's Huber `delta`. */
export const HUBER_DELTA = 1;

export interface HeadSpec {
  activation: ActivationName;
  loss: LossName;
  /** The head's units, C. */
  units: number;
}

/** The target of sample b at output c: y itself for one output, else the one-hot of class y[b]. */
const targetAt = (y: ArrayLike<number>, b: number, c: number, C: number): number => (C === 1 ? y[b]! : Number(y[b] === c));

/**
 * Writes p = activation(z) and returns the sum of the per-sample losses over the B samples.
 * With `dz`, also writes d(loss sum)/dz (`dz` may not alias z or p). p and dz may be float64:
 * the fused head keeps them in double precision, as the fused LSTM path always did, so that its
 * results stay bitwise those of earlier runs.
 *
 * With `w` (one weight per sample, Keras's sample_weight), sample b's loss and its row of dz are
 * multiplied by w[b]: the sum is then Σ w·loss, as tfjs's computeWeightedLoss before its mean.
 * Without, each is multiplied by 1, which leaves every bit as it was.
 */
export function headLoss(
  spec: HeadSpec,
  z: ArrayLike<number>,
  y: ArrayLike<number>,
  B: number,
  p: Float32Array | Float64Array,
  dz?: Float32Array | Float64Array,
  w?: ArrayLike<number>,
): number {
  const C = spec.units;
  activate(spec.activation, z, B, C, p);
  let sum = 0;
  switch (spec.loss) {
    case 'binaryCrossentropy':
      for (let k = 0; k < B * C; k++) {
        const b = Math.floor(k / C);
        const weight = w ? w[b]! : 1;
        const target = targetAt(y, b, k % C, C);
        // tfjs clips p to [eps, 1 - eps], takes the logit and uses the stable logistic loss.
        const clipped = Math.min(Math.max(p[k]!, EPSILON), ONE_MINUS_EPSILON);
        const logit = Math.log(clipped / (1 - clipped));
        sum += (weight * (Math.max(logit, 0) - logit * target + Math.log1p(Math.exp(-Math.abs(logit))))) / C;
        if (dz) {
          const inside = Math.fround(p[k]!) >= EPSILON && Math.fround(p[k]!) <= ONE_MINUS_EPSILON;
          // Through the sigmoid the gradient is p - target; other activations take the general route below.
          dz[k] = inside ? (weight * (spec.activation === 'sigmoid' ? p[k]! - target : (p[k]! - target) / (p[k]! * (1 - p[k]!)))) / C : 0;
        }
      }
      if (dz && spec.activation !== 'sigmoid') activationBackward(spec.activation, z, p, dz, B, C, dz);
      return sum;
    case 'sparseCategoricalCrossentropy':
    case 'categoricalCrossentropy':
      for (let b = 0; b < B; b++) {
        const at = b * C;
        const weight = w ? w[b]! : 1;
        let total = 0;
        for (let c = 0; c < C; c++) total += p[at + c]!;
        const label = y[b]!;
        // tfjs renormalises the row, clips it to [eps, 1 - eps] and takes -log of the label's entry.
        const q = p[at + label]! / total;
        const clipped = Math.min(Math.max(q, EPSILON), ONE_MINUS_EPSILON);
        sum -= weight * Math.log(clipped);
        if (dz) {
          const inside = Math.fround(q) >= EPSILON && Math.fround(q) <= ONE_MINUS_EPSILON;
          if (spec.activation === 'softmax') {
            for (let c = 0; c < C; c++) dz[at + c] = inside ? weight * (p[at + c]! - Number(c === label)) : 0;
          } else {
            // d(-log(p_y / S))/dp_c = 1/S - [c = y]/p_y.
            for (let c = 0; c < C; c++) dz[at + c] = inside ? weight * (1 / total - (c === label ? 1 / p[at + c]! : 0)) : 0;
          }
        }
      }
      if (dz && spec.activation !== 'softmax') activationBackward(spec.activation, z, p, dz, B, C, dz);
      return sum;
    case 'meanSquaredError':
    case 'meanAbsoluteError':
    case 'huber':
      for (let b = 0; b < B; b++) {
        const weight = w ? w[b]! : 1;
        for (let c = 0; c < C; c++) {
          const k = b * C + c;
          const error = p[k]! - targetAt(y, b, c, C);
          const size = Math.abs(error);
          if (spec.loss === 'meanSquaredError') {
            sum += (weight * (error * error)) / C;
            if (dz) dz[k] = (weight * (2 * error)) / C;
          } else if (spec.loss === 'meanAbsoluteError') {
            sum += (weight * size) / C;
            if (dz) dz[k] = (weight * Math.sign(error)) / C;
          } else {
            sum += (weight * (size <= HUBER_DELTA ? 0.5 * error * error : HUBER_DELTA * size - 0.5 * HUBER_DELTA * HUBER_DELTA)) / C;
            if (dz) dz[k] = (weight * (size <= HUBER_DELTA ? error : HUBER_DELTA * Math.sign(error))) / C;
          }
        }
      }
      if (dz) activationBackward(spec.activation, z, p, dz, B, C, dz);
      return sum;
  }
}
