import type { AdamWSpec } from '../config/optimizer.js';
import { Adam } from './adam.js';
import { checkRanges, checkState, type Optimizer, type OptimizerState, type WeightRange } from './optimizer.js';

const f32 = Math.fround;

const SLOTS = ['m', 'v'] as const;

/**
 * Keras's `AdamW`: each step first decays the weights, `w -= w · weightDecay · lr` in float32 with
 * the step's (scheduled) learning rate, then applies Adam with the step's gradient. Weights whose
 * name contains a string of `excludeFromWeightDecay` are not decayed (Keras's
 * `exclude_from_weight_decay(var_names=...)`, which searches the names as patterns; plain names
 * behave the same).
 *
 * The Adam part is Adamant's `Adam`, float32-exact to `tf.train.adam` like the `adam` optimizer,
 * so `adamw` with `weightDecay` 0 is `adam` to the bit. It differs from Keras's Adam only in where
 * ε sits: tf.train.adam divides by `√v̂ + ε`, Keras by `√v̂ + ε/√(1-β2^t)`.
 *
 * Its state is Adam's (`m`, `v` and the step count) under the name 'adamw'.
 */
export class AdamW implements Optimizer {
  readonly name = 'adamw';
  private readonly adam: Adam;
  /** The decayed parts of the parameter vector as [from, to) pairs, in layout order, adjacent ones merged. */
  private readonly decayed: Int32Array;
  /** `applyRange`'s one range, as `applyRanges` takes it. */
  private readonly range = new Uint32Array(2);

  constructor(
    readonly size: number,
    private readonly spec: AdamWSpec,
    weights: readonly WeightRange[] = [{ name: 'weights', offset: 0, size }],
  ) {
    const { learningRate, beta1, beta2, epsilon } = spec;
    this.adam = new Adam(size, { learningRate, beta1, beta2, epsilon, epsilonInsideSqrt: false, lazyEmbedding: false });
    this.decayed = decayedRanges(weights, spec.excludeFromWeightDecay, size);
  }

  get step(): number {
    return this.adam.step;
  }

  learningRate(): number {
    return this.adam.learningRate();
  }

  apply(params: Float32Array, grads: Float32Array): void {
    this.applyRange(params, grads, 0, this.size);
    this.finishStep();
  }

  applyRange(params: Float32Array, grads: Float32Array, from: number, to: number): void {
    if (from < 0 || to > this.size || from > to) throw new RangeError(`AdamW.applyRange: [${from}, ${to}) is outside [0, ${this.size})`);
    this.range[0] = from;
    this.range[1] = to;
    this.applyRanges(params, grads, this.range, 1);
  }

  /** Each parameter of the ranges is decayed, then stepped by Adam: per parameter, the order of `apply`. */
  applyRanges(params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void {
    checkRanges('AdamW.apply', this.size, params, grads, bounds, pairs);
    if (this.spec.weightDecay > 0) for (let k = 0; k < 2 * pairs; k += 2) this.decay(params, bounds[k]!, bounds[k + 1]!);
    this.adam.applyRanges(params, grads, bounds, pairs);
  }

  finishStep(): void {
    this.adam.finishStep();
  }

  /** `w - w · wd · lr`, each operation rounded to float32 as Keras's `variable - variable * wd * lr`. */
  private decay(params: Float32Array, from: number, to: number): void {
    const decay = f32(this.spec.weightDecay);
    const lr = f32(this.learningRate());
    const ranges = this.decayed;
    for (let k = 0; k < ranges.length; k += 2) {
      const start = Math.max(from, ranges[k]!);
      const end = Math.min(to, ranges[k + 1]!);
      for (let i = start; i < end; i++) {
        const w = params[i]!;
        params[i] = w - f32(f32(w * decay) * lr);
      }
    }
  }

  state(): OptimizerState {
    return { ...this.adam.state(), name: this.name };
  }

  restore(state: OptimizerState): void {
    checkState(state, this.name, this.size, SLOTS);
    this.adam.restore({ ...state, name: this.adam.name });
  }

  getConfig(): AdamWSpec {
    return structuredClone(this.spec);
  }
}

/** The [from, to) pairs of the weights that no string of `exclude` names, merged where adjacent. */
function decayedRanges(weights: readonly WeightRange[], exclude: readonly string[], size: number): Int32Array {
  const pairs: number[] = [];
  for (const weight of weights) {
    if (weight.offset < 0 || weight.offset + weight.size > size) throw new RangeError(`AdamW: weight ${weight.name} lies outside the ${size} parameters`);
    if (exclude.some((part) => weight.name.includes(part)) || weight.size === 0) continue;
    if (pairs.length > 0 && pairs[pairs.length - 1] === weight.offset) pairs[pairs.length - 1] = weight.offset + weight.size;
    else pairs.push(weight.offset, weight.offset + weight.size);
  }
  return Int32Array.from(pairs);
}
