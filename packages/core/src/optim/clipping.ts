import type { ClippingSpec } from '../config/optimizer.js';
import { sumOfSquares } from '../flat.js';
import type { WeightRange } from './optimizer.js';

const f32 = Math.fround;

/** Keras's three ways to clip a gradient; an optimizer block sets at most one. */
export type ClippingMode = 'clipnorm' | 'globalClipnorm' | 'clipvalue';

/**
 * Gradient clipping as Keras's optimizers do it before an update (`_clip_gradients`), over the
 * parameter server's batch-mean gradient, in place:
 *
 * - `clipnorm`: each weight tensor whose L2 norm exceeds the limit is scaled to it;
 * - `globalClipnorm`: when the L2 norm of all gradients together exceeds the limit, every value
 *   is scaled by limit / norm (`clip_by_global_norm`);
 * - `clipvalue`: each value is clipped to [-limit, limit].
 *
 * Norms are summed in float64 in index order, so they are exact to float64 rounding, never
 * overflow, and are the same on every run; a scaled value is `g · (limit / norm)` rounded once to
 * float32. A gradient within the limit is left untouched to the bit, where Keras computes
 * `g · limit / limit` and may move its last bit. An embedding's gradient arrives here dense (rows
 * no chunk touched are zero), so its norm is the dense gradient's. The loops allocate nothing.
 */
export class GradientClipping {
  /** Each weight tensor's [from, to) in the flat vector, as pairs (used by `clipnorm`). */
  private readonly tensors: Int32Array;

  constructor(
    readonly mode: ClippingMode,
    readonly limit: number,
    weights: readonly WeightRange[],
  ) {
    if (!(limit > 0)) throw new RangeError(`GradientClipping: ${mode} must be > 0, got ${limit}`);
    this.tensors = Int32Array.from(weights.flatMap((w) => [w.offset, w.offset + w.size]));
  }

  /** Clips `grads` in place. */
  clip(grads: Float32Array): void {
    switch (this.mode) {
      case 'clipnorm':
        for (let k = 0; k < this.tensors.length; k += 2) {
          const from = this.tensors[k]!;
          const to = this.tensors[k + 1]!;
          scaleToNorm(grads, from, to, this.limit, squaredNorm(grads, from, to));
        }
        return;
      case 'globalClipnorm':
        scaleToNorm(grads, 0, grads.length, this.limit, sumOfSquares(grads));
        return;
      case 'clipvalue':
        clipValues(grads, f32(this.limit));
        return;
    }
  }
}

/** The clipping an optimizer spec asks for over a model's weights, or undefined when it asks for none. */
export function createGradientClipping(spec: ClippingSpec, weights: readonly WeightRange[]): GradientClipping | undefined {
  if (spec.clipnorm !== undefined) return new GradientClipping('clipnorm', spec.clipnorm, weights);
  if (spec.globalClipnorm !== undefined) return new GradientClipping('globalClipnorm', spec.globalClipnorm, weights);
  if (spec.clipvalue !== undefined) return new GradientClipping('clipvalue', spec.clipvalue, weights);
  return undefined;
}

/** The sum of squares of x[from, to), in float64. */
function squaredNorm(x: Float32Array, from: number, to: number): number {
  let sum = 0;
  for (let i = from; i < to; i++) sum += x[i]! * x[i]!;
  return sum;
}

/** Scales x[from, to) by limit / norm when its norm, √squares, exceeds `limit`. */
function scaleToNorm(x: Float32Array, from: number, to: number, limit: number, squares: number): void {
  const norm = Math.sqrt(squares);
  if (!(norm > limit)) return;
  const scale = limit / norm;
  for (let i = from; i < to; i++) x[i] = x[i]! * scale;
}

function clipValues(x: Float32Array, limit: number): void {
  for (let i = 0; i < x.length; i++) {
    const g = x[i]!;
    if (g > limit) x[i] = limit;
    else if (g < -limit) x[i] = -limit;
  }
}
