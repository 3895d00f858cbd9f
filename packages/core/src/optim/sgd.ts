import type { SgdSpec } from '../config/optimizer.js';
import { checkRanges, checkState, type Optimizer, type OptimizerState } from './optimizer.js';
import { learningRateAt } from './schedules.js';

const f32 = Math.fround;

/**
 * Keras's `SGD`, every operation rounded to float32 as Keras's `update_step` does:
 *
 * - without momentum, `w -= g · lr` (bitwise `tf.train.sgd`);
 * - with momentum μ, a velocity `m = m · μ - g · lr`, then `w += m`;
 * - with Nesterov momentum, `w += m · μ - g · lr` with the new `m`.
 *
 * Keras keeps the learning rate inside the velocity; `tf.train.momentum` keeps it outside
 * (`a = μ·a + g`, `w -= lr·a`). The two agree for a constant rate, and Keras's form is the one
 * that follows a schedule. Its state is the step count and, with momentum, the slot `momentum`.
 */
export class SGD implements Optimizer {
  readonly name = 'sgd';
  /** The velocity; empty without momentum, as Keras creates none. */
  private readonly velocity: Float32Array;
  private stepCount = 0;
  /** `applyRange`'s one range, as `applyRanges` takes it. */
  private readonly range = new Uint32Array(2);

  constructor(
    readonly size: number,
    private readonly spec: SgdSpec,
  ) {
    this.velocity = new Float32Array(spec.momentum === 0 ? 0 : size);
  }

  get step(): number {
    return this.stepCount;
  }

  learningRate(): number {
    return learningRateAt(this.spec.learningRate, this.stepCount);
  }

  apply(params: Float32Array, grads: Float32Array): void {
    this.applyRange(params, grads, 0, this.size);
    this.finishStep();
  }

  applyRange(params: Float32Array, grads: Float32Array, from: number, to: number): void {
    if (from < 0 || to > this.size || from > to) throw new RangeError(`SGD.applyRange: [${from}, ${to}) is outside [0, ${this.size})`);
    this.range[0] = from;
    this.range[1] = to;
    this.applyRanges(params, grads, this.range, 1);
  }

  applyRanges(params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void {
    checkRanges('SGD.apply', this.size, params, grads, bounds, pairs);
    const lr = f32(this.learningRate());
    const m = this.velocity;
    const momentum = f32(this.spec.momentum);
    for (let k = 0; k < 2 * pairs; k += 2) {
      const to = bounds[k + 1]!;
      if (this.spec.momentum === 0) {
        for (let i = bounds[k]!; i < to; i++) params[i] = params[i]! - f32(grads[i]! * lr);
      } else if (this.spec.nesterov) {
        for (let i = bounds[k]!; i < to; i++) {
          const step = f32(grads[i]! * lr);
          const mi = f32(f32(m[i]! * momentum) - step);
          m[i] = mi;
          params[i] = params[i]! + f32(f32(mi * momentum) - step);
        }
      } else {
        for (let i = bounds[k]!; i < to; i++) {
          const mi = f32(f32(m[i]! * momentum) - f32(grads[i]! * lr));
          m[i] = mi;
          params[i] = params[i]! + mi;
        }
      }
    }
  }

  finishStep(): void {
    this.stepCount++;
  }

  state(): OptimizerState {
    return { name: this.name, step: this.stepCount, slots: this.spec.momentum === 0 ? {} : { momentum: this.velocity.slice() } };
  }

  restore(state: OptimizerState): void {
    const slots = checkState(state, this.name, this.size, this.spec.momentum === 0 ? [] : (['momentum'] as const));
    if (this.spec.momentum !== 0) this.velocity.set((slots as Record<'momentum', Float32Array>).momentum);
    this.stepCount = state.step;
  }

  getConfig(): SgdSpec {
    return structuredClone(this.spec);
  }
}
