import { ShapeError, type LayerSpec } from '@adamant/core';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';

type PoolingSpec = Extract<LayerSpec, { type: 'globalAveragePooling1d' | 'globalMaxPooling1d' }>;

/**
 * globalAveragePooling1d and globalMaxPooling1d on the fused path: a time-major sequence
 * [T*B, W] to one vector per sample [B, W], as tfjs's mean and max over axis 1.
 *
 * The max's gradient follows tfjs (gradForMinAndMax: dy * (x == max)): every step that equals
 * the maximum receives the whole gradient, not only the first one. Ties are common right after
 * an embedding, where a repeated token gives repeated rows, and the fused path must equal autodiff.
 */
export class FusedGlobalPooling1d implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  private readonly kind: PoolingSpec['type'];
  private readonly steps: number;
  private readonly width: number;
  private readonly scratch: Scratch;
  /** The input and output of the last training forward (max pooling compares them in backward). */
  private tape?: { input: Float32Array; output: Float32Array; batch: number };

  constructor(spec: PoolingSpec, ctx: LayerContext) {
    if (ctx.input.kind !== 'sequence') {
      throw new ShapeError(`layer ${ctx.index} (${spec.type}) needs a sequence input, got a vector of width ${ctx.input.width}`);
    }
    if (ctx.weights.length !== 0) throw new ShapeError(`layer ${ctx.index} (${spec.type}): has ${ctx.weights.length} weights, expected none`);
    this.index = ctx.index;
    this.input = ctx.input;
    this.output = { kind: 'vector', width: ctx.input.width };
    this.kind = spec.type;
    this.steps = ctx.input.steps;
    this.width = ctx.input.width;
    this.scratch = ctx.scratch;
  }

  setWeights(_flat: Float32Array): void {}

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [T, W] = [this.steps, this.width];
    if (input.length !== T * B * W) throw new ShapeError(`layer ${this.index} (${this.kind}): input of ${input.length} values, expected ${T}x${B}x${W}`);
    const output = this.scratch.get(`${this.index}.pooling.output`, B * W);
    if (this.kind === 'globalAveragePooling1d') {
      for (let k = 0; k < B * W; k++) {
        let sum = 0;
        for (let t = 0; t < T; t++) sum += input[t * B * W + k]!;
        output[k] = sum / T;
      }
    } else {
      for (let k = 0; k < B * W; k++) {
        let max = input[k]!;
        for (let t = 1; t < T; t++) max = Math.max(max, input[t * B * W + k]!);
        output[k] = max;
      }
    }
    this.tape = mode.training ? { input, output, batch: B } : undefined;
    return output;
  }

  backward(dOutput: Float32Array, B: number, _grads: Float32Array, needInput: boolean): Float32Array {
    const [T, W] = [this.steps, this.width];
    const tape = this.tape;
    if (!tape || tape.batch !== B) throw new ShapeError(`layer ${this.index} (${this.kind}): backward without a training forward of ${B} samples`);
    if (!needInput) return new Float32Array(0);
    const dInput = this.scratch.get(`${this.index}.pooling.dInput`, T * B * W);
    if (this.kind === 'globalAveragePooling1d') {
      for (let t = 0; t < T; t++) for (let k = 0; k < B * W; k++) dInput[t * B * W + k] = dOutput[k]! / T;
    } else {
      const { input, output } = tape;
      for (let t = 0; t < T; t++) for (let k = 0; k < B * W; k++) dInput[t * B * W + k] = input[t * B * W + k] === output[k] ? dOutput[k]! : 0;
    }
    return dInput;
  }

  dispose(): void {
    this.tape = undefined;
  }
}
