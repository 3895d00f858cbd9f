import { activate, headLoss, ShapeError, type HeadSpec, type LossName } from '@adamant/core';
import type { Activations, LayerContext, Scratch } from './FusedLayer.js';
import { denseWeights, type DenseSpec } from './dense.js';

/**
 * The model's last dense layer and its loss. Its pre-activations z = x W + b are summed in double
 * precision in typed-array loops (a head is narrow: one unit, or one per class), and so are the
 * activation, the loss and d(loss)/dz (core's headLoss): this is the arithmetic of the original
 * fused LSTM head, kept to the bit. z lives in the head between `forward` and `backward`.
 */
export class FusedHead {
  readonly index: number;
  readonly input: Activations;
  readonly spec: HeadSpec;
  private readonly inputs: number;
  private readonly offsets: { kernel: number; bias?: number };
  private readonly kernel: Float32Array;
  private readonly bias: Float32Array;
  private readonly scratch: Scratch;
  /** Float64 working memory: pre-activations, outputs and their gradient, grown to the largest batch. */
  private preActivation = new Float64Array(0);
  private probabilities = new Float64Array(0);
  private dPreActivation = new Float64Array(0);
  private tape?: { input: Float32Array; batch: number };

  constructor(spec: DenseSpec, ctx: LayerContext, loss: LossName) {
    const { inputs, ...offsets } = denseWeights(spec, ctx);
    this.index = ctx.index;
    this.input = ctx.input;
    this.spec = { activation: spec.activation, loss, units: spec.units };
    this.inputs = inputs;
    this.offsets = offsets;
    this.kernel = new Float32Array(inputs * spec.units);
    this.bias = new Float32Array(spec.units);
    this.scratch = ctx.scratch;
  }

  get units(): number {
    return this.spec.units;
  }

  setWeights(flat: Float32Array): void {
    this.kernel.set(flat.subarray(this.offsets.kernel, this.offsets.kernel + this.kernel.length));
    if (this.offsets.bias !== undefined) this.bias.set(flat.subarray(this.offsets.bias, this.offsets.bias + this.units));
  }

  /** z = x W + b for B samples, [B, C] in double precision; kept (with x, when training) for the calls below. */
  forward(input: Float32Array, B: number, training: boolean): Float64Array {
    const [I, C] = [this.inputs, this.units];
    if (input.length !== B * I) throw new ShapeError(`layer ${this.index} (dense): input of ${input.length} values, expected ${B}x${I}`);
    if (this.preActivation.length < B * C) {
      this.preActivation = new Float64Array(B * C);
      this.probabilities = new Float64Array(B * C);
      this.dPreActivation = new Float64Array(B * C);
    }
    const z = this.preActivation.subarray(0, B * C);
    const kernel = this.kernel;
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        let sum = this.bias[c]!;
        for (let j = 0; j < I; j++) sum += input[b * I + j]! * kernel[j * C + c]!;
        z[b * C + c] = sum;
      }
    }
    this.tape = training ? { input, batch: B } : undefined;
    return z;
  }

  /**
   * The loss sum of the last forward's B samples against targets y, each sample's loss (and its
   * row of the gradient) times its weight w[b] when weights are given; writes the outputs p
   * ([B, C], double) and, with `dLogits`, d(loss sum)/dz rounded to float32 into it.
   */
  loss(y: Float32Array, B: number, dLogits?: Float32Array, w?: Float32Array): { lossSum: number; p: Float64Array } {
    const n = B * this.units;
    const z = this.preActivation.subarray(0, n);
    const p = this.probabilities.subarray(0, n);
    const dz = dLogits ? this.dPreActivation.subarray(0, n) : undefined;
    const lossSum = headLoss(this.spec, z, y, B, p, dz, w);
    if (dLogits && dz) dLogits.set(dz);
    return { lossSum, p };
  }

  /** The outputs activation(z) of the last forward, in float32 ([B, C]). */
  outputs(B: number, out: Float32Array): Float32Array {
    return activate(this.spec.activation, this.preActivation.subarray(0, B * this.units), B, this.units, out);
  }

  /**
   * Adds the head's weight gradients for d(loss)/dz = dLogits ([B, C], float32) into `grads`,
   * sample by sample, and returns d(loss)/dx ([B, inputs]).
   */
  backward(dLogits: Float32Array, B: number, grads: Float32Array): Float32Array {
    const [I, C] = [this.inputs, this.units];
    const tape = this.tape;
    if (!tape || tape.batch !== B) throw new ShapeError(`layer ${this.index} (dense): backward without a training forward of ${B} samples`);
    const { input } = tape;
    const { kernel: k, bias: bOff } = this.offsets;
    const dInput = this.scratch.get(`${this.index}.head.dInput`, B * I);
    for (let b = 0; b < B; b++) {
      for (let c = 0; c < C; c++) {
        const d = dLogits[b * C + c]!;
        if (bOff !== undefined) grads[bOff + c] = grads[bOff + c]! + d;
        for (let j = 0; j < I; j++) grads[k + j * C + c] = grads[k + j * C + c]! + input[b * I + j]! * d;
      }
      // Starting from the first product (not from 0) keeps a single unit's d * w exactly, sign of zero included.
      for (let j = 0; j < I; j++) {
        let sum = dLogits[b * C]! * this.kernel[j * C]!;
        for (let c = 1; c < C; c++) sum += dLogits[b * C + c]! * this.kernel[j * C + c]!;
        dInput[b * I + j] = sum;
      }
    }
    return dInput;
  }

  dispose(): void {
    this.tape = undefined;
  }
}
