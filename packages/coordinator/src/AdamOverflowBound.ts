import { learningRateAt, maxAbs, type OptimizerSpec, type OptimizerState } from '@adamant/core';

/** Every bound must stay below this: float32's largest value is 3.4e38, and the slack absorbs rounding. */
const LIMIT = 1e38;
/** One float32 or float64 rounding moves a value by at most 2^-24 of it; 2^-20 per operation is generous. */
const ROUNDING = 1 + 2 ** -20;

type AdamLike = Extract<OptimizerSpec, { type: 'adam' | 'adamw' }>;
type SgdLike = Extract<OptimizerSpec, { type: 'sgd' }>;

/**
 * Upper bounds on what the parameter server's optimizer holds (|weights| and its slots), and a
 * proof, from the batch-mean gradient's largest magnitude alone, that the next update keeps every
 * one of them finite. The optimizers are element-wise, so bounds on each input bound each output.
 * For Adam:
 *
 * - m' = β1·m + (1-β1)·g and v' = β2·v + (1-β2)·g² are convex combinations: |m'| <= max(|m|, |g|),
 *   v' <= max(v, g²);
 * - m̂ = m'/(1-β1^t) and v̂ = v'/(1-β2^t);
 * - the ratio m̂/(√v̂ + ε) (or m̂/√(v̂ + ε)) is at most |m̂|/ε (or |m̂|/√ε), and the step is that
 *   times the learning rate.
 *
 * AdamW first decays the weights, |w - w·wd·lr| <= |w|·(1 + wd·lr), then takes Adam's step. SGD's
 * velocity obeys |m·μ - g·lr| <= μ·|m| + lr·|g|, and its step adds the velocity (Nesterov:
 * μ·|m'| + lr·|g|) to the weights. The learning rate is the schedule's at the step.
 *
 * With a proof, the update runs in place and costs nothing more; without one (a huge gradient or
 * learning rate, weights grown near float32's range) the parameter server takes its careful path:
 * a copy, the update, a check of everything, and a restore if anything went non-finite. The bound
 * is loose (it assumes the worst ε-limited step every time), but a healthy run stays some thirty
 * orders of magnitude inside it, and the careful path measures the bounds afresh.
 */
export class AdamOverflowBound {
  private weights = Number.POSITIVE_INFINITY;
  /** Adam's |m|, or SGD's |velocity|. */
  private m = Number.POSITIVE_INFINITY;
  /** Adam's v (0 for SGD). */
  private v = Number.POSITIVE_INFINITY;

  constructor(private readonly spec: OptimizerSpec) {}

  /** Takes exact bounds from the current weights and optimizer state (one pass over each). */
  measure(params: Float32Array, state: OptimizerState): void {
    const slots = state.slots;
    this.weights = maxAbs(params);
    if (this.spec.type === 'sgd') {
      const velocity = slots.momentum;
      this.m = this.spec.momentum === 0 ? 0 : velocity ? maxAbs(velocity) : Number.POSITIVE_INFINITY;
      this.v = 0;
      return;
    }
    this.m = slots.m ? maxAbs(slots.m) : Number.POSITIVE_INFINITY;
    this.v = slots.v ? maxAbs(slots.v) : Number.POSITIVE_INFINITY;
  }

  /**
   * Whether an update with a finite gradient of largest magnitude `gradMax`, after `completedSteps`
   * steps, provably leaves the weights and slots finite. When it does, the bounds now describe
   * the updated state; when not, they are left as they were (the careful path measures them).
   */
  admit(gradMax: number, completedSteps: number): boolean {
    const spec = this.spec;
    // The optimizers round the rate to float32, which may raise it by one rounding.
    const learningRate = learningRateAt(spec.learningRate, completedSteps) * ROUNDING;
    // A growing schedule can leave float32's range, where the rate itself becomes Infinity.
    if (!(learningRate < LIMIT)) return false;
    if (spec.type === 'sgd') return this.admitSgd(spec, gradMax, learningRate);
    let weights = this.weights;
    if (spec.type === 'adamw') {
      const product = weights * spec.weightDecay * ROUNDING;
      weights = weights * (1 + spec.weightDecay * learningRate) * ROUNDING ** 3;
      if (!(product < LIMIT && weights < LIMIT)) return false;
    }
    return this.admitAdam(spec, gradMax, completedSteps + 1, learningRate, weights);
  }

  private admitAdam(spec: AdamLike, gradMax: number, t: number, learningRate: number, weightsBefore: number): boolean {
    const m = Math.max(this.m, gradMax) * ROUNDING ** 4;
    const v = Math.max(this.v, gradMax * gradMax) * ROUNDING ** 4;
    const mHat = (m / lowerCorrection(spec.beta1, t)) * ROUNDING;
    const vHat = (v / lowerCorrection(spec.beta2, t)) * ROUNDING;
    const epsilonFloor = spec.type === 'adam' && spec.epsilonInsideSqrt ? Math.sqrt(spec.epsilon) : Math.fround(spec.epsilon);
    // tfjs-exact Adam rounds m̂/(√v̂ + ε) to float32 before the learning rate scales it down.
    const ratio = (mHat / epsilonFloor) * ROUNDING ** 2;
    const stepSize = learningRate * ratio * ROUNDING;
    const weights = (weightsBefore + stepSize) * ROUNDING;
    // `!(x < LIMIT)` is also true for NaN (a zero epsilon or correction gives one).
    if (!(m < LIMIT && v < LIMIT && mHat < LIMIT && vHat < LIMIT && ratio < LIMIT && weights < LIMIT)) return false;
    this.weights = weights;
    this.m = m;
    this.v = v;
    return true;
  }

  private admitSgd(spec: SgdLike, gradMax: number, learningRate: number): boolean {
    const step = gradMax * learningRate * ROUNDING;
    let m = 0;
    let weights: number;
    if (spec.momentum === 0) weights = (this.weights + step) * ROUNDING;
    else {
      m = (this.m * spec.momentum * ROUNDING + step) * ROUNDING;
      const move = spec.nesterov ? (m * spec.momentum * ROUNDING + step) * ROUNDING : m;
      weights = (this.weights + move) * ROUNDING;
    }
    if (!(step < LIMIT && m < LIMIT && weights < LIMIT)) return false;
    this.weights = weights;
    this.m = m;
    return true;
  }
}

/**
 * A lower bound on Adam's bias correction 1 - β^t. tfjs-exact Adam keeps β^t as a running float32
 * product, each factor rounded by at most 2^-24, so β^t is below exp(t·(ln β + 2^-23)); a β that
 * rounds to 1 in float32 gives a correction of 0, which admits nothing.
 */
function lowerCorrection(beta: number, t: number): number {
  const base = Math.max(beta, Math.fround(beta));
  const power = Math.min(1, Math.exp(t * (Math.log(base) + 2 ** -23)));
  return (1 - power) / ROUNDING;
}
