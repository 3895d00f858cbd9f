import { sigmoid } from '@adamant/core';
import type { GemmEngine } from '../gemm/GemmEngine.js';

/**
 * The sigmoid and tanh the recurrent cells apply to their gates (and tanh to the LSTM's cell
 * state), one value at a time or over a range of a row's float64 pre-activations in place. The
 * cells call the range forms: each set's loops then see one function only, which V8 inlines,
 * even in a process that runs both sets (tests, benchmarks).
 */
export interface GateFunctions {
  readonly sigmoid: (x: number) => number;
  readonly tanh: (x: number) => number;
  /** values[k] = sigmoid(values[k]) for from <= k < to. */
  sigmoidInPlace(values: Float64Array, from: number, to: number): void;
  /** values[k] = tanh(values[k]) for from <= k < to. */
  tanhInPlace(values: Float64Array, from: number, to: number): void;
}

/** tfjs's definitions, 1 / (1 + e^-x) and Math.tanh: the fused path's functions since it began. */
export const EXACT_GATES: GateFunctions = {
  sigmoid,
  tanh: Math.tanh,
  sigmoidInPlace(values, from, to) {
    for (let k = from; k < to; k++) values[k] = sigmoid(values[k]!);
  },
  tanhInPlace(values, from, to) {
    for (let k = from; k < to; k++) values[k] = Math.tanh(values[k]!);
  },
};

/** Eigen clamps the input here: beyond it the result stays at +-0.99999974. */
const TANH_CLAMP = 7.905311107635498;

/**
 * tanh(x) as Eigen's fast float tanh computes it (a [13/6] rational function of x, clamped at
 * +-7.9053): within 3e-7 relative of Math.tanh, a few float32 ulps, in a few multiplications
 * where Math.tanh costs ~20 ns. NaN stays NaN.
 */
export function rationalTanh(x: number): number {
  const clamped = Math.min(Math.max(x, -TANH_CLAMP), TANH_CLAMP);
  const x2 = clamped * clamped;
  let p = -2.76076847742355e-16;
  p = p * x2 + 2.00018790482477e-13;
  p = p * x2 - 8.60467152213735e-11;
  p = p * x2 + 5.12229709037114e-8;
  p = p * x2 + 1.48572235717979e-5;
  p = p * x2 + 6.37261928875436e-4;
  p = p * x2 + 4.89352455891786e-3;
  let q = 1.19825839466702e-6;
  q = q * x2 + 1.18534705686654e-4;
  q = q * x2 + 2.268434632439e-3;
  q = q * x2 + 4.89352518554385e-3;
  return (p * clamped) / q;
}

/** sigmoid(x) = (1 + tanh(x / 2)) / 2 through rationalTanh: within 1.5e-7 of 1 / (1 + e^-x), absolute. */
export function rationalSigmoid(x: number): number {
  return 0.5 * rationalTanh(0.5 * x) + 0.5;
}

/** The rational approximations above: as accurate as the float32 values they are stored in, a few ulps. */
export const RATIONAL_GATES: GateFunctions = {
  sigmoid: rationalSigmoid,
  tanh: rationalTanh,
  sigmoidInPlace(values, from, to) {
    for (let k = from; k < to; k++) values[k] = rationalSigmoid(values[k]!);
  },
  tanhInPlace(values, from, to) {
    for (let k = from; k < to; k++) values[k] = rationalTanh(values[k]!);
  },
};

/**
 * The gate functions of a fused model on `engine`. The wasm engine keeps the exact ones, so that
 * models train to the bits they always did. On OpenBLAS the products run ~3x faster, and the
 * gates' Math.exp and Math.tanh calls (five per unit and step, ~20 ns each) would cost as much as
 * all the products together: there the rational approximations run instead, at 3-8 ns. Either
 * way the functions are pure arithmetic in a fixed order, so results stay bitwise reproducible
 * for a given engine.
 */
export function gateFunctionsFor(engine: Pick<GemmEngine, 'name'>): GateFunctions {
  return engine.name === 'wasm' ? EXACT_GATES : RATIONAL_GATES;
}
