import { mixSeed, ShapeError, type LayerSpec } from '@adamant/core';
import seedrandom from 'seedrandom';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';

type DropoutSpec = Extract<LayerSpec, { type: 'dropout' }>;

/**
 * The multipliers `tf.dropout(x, rate, null, seed)` draws for x of shape [B, steps, width] (or
 * [B, width] with steps = 1), written time-major: out[(t*B + b)*width + w]. tfjs-core draws one
 * uniform per element, sample-major, from seedrandom's alea(seed.toString()), stores it as a
 * float32 u and keeps the element when floor(u + keep) = 1, keep = float32(1 - rate); the
 * multiplier is then 1 / keep in float32, or 0. Same draws, same order, so the fused path drops
 * exactly the elements the autodiff path does.
 */
export function dropoutMultipliers(rate: number, seed: number, B: number, steps: number, width: number, out: Float32Array): Float32Array {
  const random = seedrandom.alea(seed.toString());
  const keep = Math.fround(1 - rate);
  const scale = Math.fround(1 / keep);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < steps; t++) {
      const at = (t * B + b) * width;
      for (let w = 0; w < width; w++) out[at + w] = Math.fround(Math.fround(random()) + keep) >= 1 ? scale : 0;
    }
  }
  return out;
}

/**
 * A dropout layer on the fused path: in training, each element is multiplied by its multiplier
 * from dropoutMultipliers, seeded with mixSeed(chunk seed, layer index) as AutodiffGradients
 * seeds tfjs's Dropout layers; in inference, and at rate 0, it passes its input through.
 */
export class FusedDropout implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  private readonly rate: number;
  private readonly steps: number;
  private readonly width: number;
  private readonly scratch: Scratch;
  /** The multipliers of the last training forward, or undefined when it passed its input through. */
  private tape?: { multipliers?: Float32Array; batch: number };

  constructor(spec: DropoutSpec, ctx: LayerContext) {
    if (ctx.weights.length !== 0) throw new ShapeError(`layer ${ctx.index} (dropout): has ${ctx.weights.length} weights, expected none`);
    this.index = ctx.index;
    this.input = ctx.input;
    this.output = ctx.input;
    this.rate = spec.rate;
    this.steps = ctx.input.kind === 'sequence' ? ctx.input.steps : 1;
    this.width = ctx.input.width;
    this.scratch = ctx.scratch;
  }

  setWeights(_flat: Float32Array): void {}

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const n = B * this.steps * this.width;
    if (input.length !== n) throw new ShapeError(`layer ${this.index} (dropout): input of ${input.length} values, expected ${n}`);
    this.tape = undefined;
    if (!mode.training || this.rate === 0) {
      if (mode.training) this.tape = { batch: B };
      return input;
    }
    const multipliers = dropoutMultipliers(this.rate, mixSeed(mode.seed, this.index), B, this.steps, this.width, this.buffer('multipliers', n));
    const output = this.buffer('output', n);
    for (let k = 0; k < n; k++) output[k] = input[k]! * multipliers[k]!;
    this.tape = { multipliers, batch: B };
    return output;
  }

  backward(dOutput: Float32Array, B: number, _grads: Float32Array, needInput: boolean): Float32Array {
    const tape = this.tape;
    if (!tape || tape.batch !== B) throw new ShapeError(`layer ${this.index} (dropout): backward without a training forward of ${B} samples`);
    if (!needInput || !tape.multipliers) return needInput ? dOutput : new Float32Array(0);
    const { multipliers } = tape;
    const dInput = this.buffer('dInput', multipliers.length);
    for (let k = 0; k < multipliers.length; k++) dInput[k] = dOutput[k]! * multipliers[k]!;
    return dInput;
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.dropout.${name}`, length);
  }

  dispose(): void {
    this.tape = undefined;
  }
}
