import type { ActivationName } from '../config/names.js';

/**
 * The activations of ACTIVATION_NAMES on typed arrays, forward and backward, with tfjs-layers'
 * definitions: the fused paths (worker) and the typed-array objective (objective.ts) share them.
 * Values are row-major [rows, width]; softmax normalises each row, the rest act element-wise.
 */

/** The logistic function, as tfjs computes sigmoid. */
export const sigmoid = (x: number): number => 1 / (1 + Math.exp(-x));

const SELU_ALPHA = 1.6732632423543772;
const SELU_SCALE = 1.0507009873554805;

/** out = activation(z); `out` may be `z` itself. */
export function activate<Out extends Float32Array | Float64Array>(name: ActivationName, z: ArrayLike<number>, rows: number, width: number, out: Out): Out {
  const n = rows * width;
  switch (name) {
    case 'linear':
      if (out !== z) for (let k = 0; k < n; k++) out[k] = z[k]!;
      return out;
    case 'relu':
      for (let k = 0; k < n; k++) out[k] = Math.max(z[k]!, 0);
      return out;
    case 'sigmoid':
      for (let k = 0; k < n; k++) out[k] = sigmoid(z[k]!);
      return out;
    case 'tanh':
      for (let k = 0; k < n; k++) out[k] = Math.tanh(z[k]!);
      return out;
    case 'elu':
      for (let k = 0; k < n; k++) out[k] = z[k]! > 0 ? z[k]! : Math.expm1(z[k]!);
      return out;
    case 'selu':
      for (let k = 0; k < n; k++) out[k] = SELU_SCALE * (z[k]! > 0 ? z[k]! : SELU_ALPHA * Math.expm1(z[k]!));
      return out;
    case 'softplus':
      // log(1 + e^x) without overflow for large x.
      for (let k = 0; k < n; k++) out[k] = Math.max(z[k]!, 0) + Math.log1p(Math.exp(-Math.abs(z[k]!)));
      return out;
    case 'softmax':
      for (let r = 0; r < rows; r++) {
        const at = r * width;
        let max = Number.NEGATIVE_INFINITY;
        for (let c = 0; c < width; c++) max = Math.max(max, z[at + c]!);
        let sum = 0;
        for (let c = 0; c < width; c++) {
          const e = Math.exp(z[at + c]! - max);
          out[at + c] = e;
          sum += e;
        }
        for (let c = 0; c < width; c++) out[at + c] = out[at + c]! / sum;
      }
      return out;
  }
}

/**
 * dz = d(loss)/d(z) from dp = d(loss)/d(activation(z)), given z and p = activation(z) (each
 * activation reads whichever is cheaper). `dz` may be `dp` itself.
 */
export function activationBackward<Out extends Float32Array | Float64Array>(
  name: ActivationName,
  z: ArrayLike<number>,
  p: ArrayLike<number>,
  dp: ArrayLike<number>,
  rows: number,
  width: number,
  dz: Out,
): Out {
  const n = rows * width;
  switch (name) {
    case 'linear':
      if (dz !== dp) for (let k = 0; k < n; k++) dz[k] = dp[k]!;
      return dz;
    case 'relu':
      for (let k = 0; k < n; k++) dz[k] = z[k]! > 0 ? dp[k]! : 0;
      return dz;
    case 'sigmoid':
      for (let k = 0; k < n; k++) dz[k] = dp[k]! * p[k]! * (1 - p[k]!);
      return dz;
    case 'tanh':
      for (let k = 0; k < n; k++) dz[k] = dp[k]! * (1 - p[k]! * p[k]!);
      return dz;
    case 'elu':
      for (let k = 0; k < n; k++) dz[k] = z[k]! > 0 ? dp[k]! : dp[k]! * (p[k]! + 1);
      return dz;
    case 'selu':
      for (let k = 0; k < n; k++) dz[k] = z[k]! > 0 ? dp[k]! * SELU_SCALE : dp[k]! * (p[k]! + SELU_SCALE * SELU_ALPHA);
      return dz;
    case 'softplus':
      for (let k = 0; k < n; k++) dz[k] = dp[k]! * sigmoid(z[k]!);
      return dz;
    case 'softmax':
      // The softmax Jacobian-vector product: dz_j = p_j (dp_j - sum_k dp_k p_k).
      for (let r = 0; r < rows; r++) {
        const at = r * width;
        let dot = 0;
        for (let c = 0; c < width; c++) dot += dp[at + c]! * p[at + c]!;
        for (let c = 0; c < width; c++) dz[at + c] = p[at + c]! * (dp[at + c]! - dot);
      }
      return dz;
  }
}
