import type { AdamConfig, AdamSpec } from '../config/optimizer.js';
import { checkRanges, checkState, type Optimizer, type OptimizerState } from './optimizer.js';
import { learningRateAt } from './schedules.js';

const f32 = Math.fround;

/** Adam's slots in an OptimizerState: first and second moments. */
const SLOTS = ['m', 'v'] as const;

/**
 * Adam over one flat Float32Array of parameters: the parameter server's optimizer.
 *
 * By default it reproduces `tf.train.adam` operation for operation, rounding to float32 where
 * TensorFlow.js does (moments, bias corrections, the running powers beta^t kept as float32
 * products), so that a distributed run can be checked against single-process tfjs training.
 * With `epsilonInsideSqrt` it computes `theta -= lr * m_hat / sqrt(v_hat + eps)` instead. A
 * scheduled learning rate is evaluated at the completed step count, as Keras does. The clipping
 * fields of its config are the parameter server's business (`createGradientClipping`).
 *
 * `apply` allocates nothing: one pass over the arrays per step. Its state is the step count and
 * the slots `m` and `v`.
 */
export class Adam implements Optimizer {
  readonly name = 'adam';
  readonly m: Float32Array;
  readonly v: Float32Array;
  private stepCount = 0;
  /** `applyRange`'s one range, as `applyRanges` takes it. */
  private readonly range = new Uint32Array(2);
  /** beta1^t and beta2^t, as float32 running products like tf.train.adam's accBeta variables. */
  private accBeta1: number;
  private accBeta2: number;

  constructor(
    readonly size: number,
    readonly config: AdamConfig,
  ) {
    this.m = new Float32Array(size);
    this.v = new Float32Array(size);
    this.accBeta1 = f32(config.beta1);
    this.accBeta2 = f32(config.beta2);
  }

  get step(): number {
    return this.stepCount;
  }

  learningRate(): number {
    return learningRateAt(this.config.learningRate, this.stepCount);
  }

  /** Updates `params` in place with the averaged gradient `grads`: one whole step. */
  apply(params: Float32Array, grads: Float32Array): void {
    this.applyRange(params, grads, 0, this.size);
    this.finishStep();
  }

  /**
   * Updates only parameters [from, to) for the current step; call `finishStep()` once all
   * ranges of the step are done. Lazy embedding updates use this to skip untouched rows.
   */
  applyRange(params: Float32Array, grads: Float32Array, from: number, to: number): void {
    if (from < 0 || to > this.size || from > to) throw new RangeError(`Adam.applyRange: [${from}, ${to}) is outside [0, ${this.size})`);
    this.range[0] = from;
    this.range[1] = to;
    this.applyRanges(params, grads, this.range, 1);
  }

  /** Updates the parameters of `pairs` disjoint ranges [bounds[2k], bounds[2k + 1]) for the current step. */
  applyRanges(params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void {
    checkRanges('Adam.apply', this.size, params, grads, bounds, pairs);
    if (this.config.epsilonInsideSqrt) this.applyEpsilonInside(params, grads, bounds, pairs);
    else this.applyLikeTfjs(params, grads, bounds, pairs);
  }

  /** Ends the step: advances t and the running powers beta^t. */
  finishStep(): void {
    this.stepCount++;
    this.accBeta1 = f32(this.accBeta1 * f32(this.config.beta1));
    this.accBeta2 = f32(this.accBeta2 * f32(this.config.beta2));
  }

  private applyLikeTfjs(params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void {
    const { m, v } = this;
    const beta1 = f32(this.config.beta1);
    const beta2 = f32(this.config.beta2);
    const oneMinusBeta1 = f32(1 - this.config.beta1);
    const oneMinusBeta2 = f32(1 - this.config.beta2);
    const oneMinusAccBeta1 = f32(1 - this.accBeta1);
    const oneMinusAccBeta2 = f32(1 - this.accBeta2);
    const negLr = f32(-this.learningRate());
    const eps = f32(this.config.epsilon);
    for (let k = 0; k < 2 * pairs; k += 2) {
      const to = bounds[k + 1]!;
      for (let i = bounds[k]!; i < to; i++) {
        const g = grads[i]!;
        const mi = f32(f32(m[i]! * beta1) + f32(g * oneMinusBeta1));
        const vi = f32(f32(v[i]! * beta2) + f32(f32(g * g) * oneMinusBeta2));
        m[i] = mi;
        v[i] = vi;
        const mHat = f32(mi / oneMinusAccBeta1);
        const vHat = f32(vi / oneMinusAccBeta2);
        const ratio = f32(mHat / f32(f32(Math.sqrt(vHat)) + eps));
        params[i] = f32(ratio * negLr) + params[i]!;
      }
    }
  }

  private applyEpsilonInside(params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void {
    const { m, v } = this;
    const { beta1, beta2, epsilon } = this.config;
    const learningRate = this.learningRate();
    const t = this.stepCount + 1;
    const correction1 = 1 - beta1 ** t;
    const correction2 = 1 - beta2 ** t;
    for (let k = 0; k < 2 * pairs; k += 2) {
      const to = bounds[k + 1]!;
      for (let i = bounds[k]!; i < to; i++) {
        const g = grads[i]!;
        const mi = beta1 * m[i]! + (1 - beta1) * g;
        const vi = beta2 * v[i]! + (1 - beta2) * g * g;
        m[i] = mi;
        v[i] = vi;
        params[i] = params[i]! - (learningRate * (mi / correction1)) / Math.sqrt(vi / correction2 + epsilon);
      }
    }
  }

  /** A copy of the optimizer's state, for checkpoints. */
  state(): OptimizerState {
    return { name: this.name, step: this.stepCount, slots: { m: this.m.slice(), v: this.v.slice() } };
  }

  /**
   * Restores a state taken with `state()` (from a checkpoint or a saved run). The running powers
   * beta^t are recomputed by the same float32 products the steps made, so the next step is
   * bitwise the one an uninterrupted run takes.
   */
  restore(state: OptimizerState): void {
    const { m, v } = checkState(state, this.name, this.size, SLOTS);
    this.m.set(m);
    this.v.set(v);
    this.stepCount = state.step;
    this.accBeta1 = f32(this.config.beta1);
    this.accBeta2 = f32(this.config.beta2);
    for (let t = 0; t < state.step; t++) {
      this.accBeta1 = f32(this.accBeta1 * f32(this.config.beta1));
      this.accBeta2 = f32(this.accBeta2 * f32(this.config.beta2));
    }
  }

  getConfig(): AdamSpec {
    return structuredClone({ ...this.config, type: 'adam' });
  }
}
