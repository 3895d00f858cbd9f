import { ShapeError, type BidirectionalLayerSpec, type MergeMode } from '@adamant/core';
import type { Activations, ForwardMode, FusedLayer, LayerContext } from './FusedLayer.js';
import { NO_INPUT_GRADIENT, PrefixedScratch, reverseTime, sequenceInput } from './recurrent.js';

/** The recurrent layer a bidirectional layer wraps (an lstm or gru spec without inputShape). */
export type WrappedLayerSpec = BidirectionalLayerSpec['layer'];

/** Builds the fused layer for one direction of a bidirectional layer (FusedLstm or FusedGru). */
export type MakeWrappedLayer = (spec: WrappedLayerSpec, ctx: LayerContext) => FusedLayer;

/**
 * A bidirectional recurrent layer on the fused path, as tfjs-layers' Bidirectional computes it:
 * one inner layer reads the sequence forward, a second (weights of their own) reads it in
 * reverse, and their outputs merge (concat: forward features then backward ones; sum; ave; mul).
 * When the layer returns sequences, the backward layer's outputs are reversed back first, so
 * that both describe the same step. The weights are the forward layer's, then the backward
 * layer's, as tfjs's Bidirectional lists them.
 */
export class FusedBidirectional implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  private readonly forwardLayer: FusedLayer;
  private readonly backwardLayer: FusedLayer;
  private readonly mergeMode: MergeMode;
  private readonly steps: number;
  private readonly inputWidth: number;
  /** Features per step of each direction's output. */
  private readonly units: number;
  private readonly sequences: boolean;
  private readonly scratch: LayerContext['scratch'];
  /** Both directions' outputs of the last forward, aligned by step: `mul`'s backward needs them. */
  private merged?: { forward: Float32Array; backward: Float32Array; batch: number };

  constructor(spec: BidirectionalLayerSpec, ctx: LayerContext, makeInner: MakeWrappedLayer) {
    const { steps, width } = sequenceInput(ctx, 'bidirectional');
    if (ctx.weights.length === 0 || ctx.weights.length % 2 !== 0) {
      throw new ShapeError(`layer ${ctx.index} (bidirectional): has ${ctx.weights.length} weights, expected the same number for each direction`);
    }
    const half = ctx.weights.length / 2;
    const direction = (weights: LayerContext['weights'], name: string) =>
      makeInner(spec.layer, { index: ctx.index, input: ctx.input, weights, scratch: new PrefixedScratch(ctx.scratch, `${ctx.index}.${name}/`), gemm: ctx.gemm });
    this.forwardLayer = direction(ctx.weights.slice(0, half), 'forward');
    this.backwardLayer = direction(ctx.weights.slice(half), 'backward');
    const inner = this.forwardLayer.output;
    this.index = ctx.index;
    this.input = ctx.input;
    this.mergeMode = spec.mergeMode;
    this.steps = steps;
    this.inputWidth = width;
    this.units = inner.width;
    this.sequences = inner.kind === 'sequence';
    this.scratch = ctx.scratch;
    const outputWidth = spec.mergeMode === 'concat' ? 2 * inner.width : inner.width;
    this.output = inner.kind === 'sequence' ? { kind: 'sequence', steps: inner.steps, width: outputWidth } : { kind: 'vector', width: outputWidth };
  }

  setWeights(flat: Float32Array): void {
    this.forwardLayer.setWeights(flat);
    this.backwardLayer.setWeights(flat);
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.bidirectional.${name}`, length);
  }

  /** The row of the backward layer's time order that holds row `row` (t*B + b) of the input's. */
  private backwardRow(row: number, B: number): number {
    if (!this.sequences) return row;
    const t = Math.floor(row / B);
    return (this.steps - 1 - t) * B + (row - t * B);
  }

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [T, F, H] = [this.steps, this.inputWidth, this.units];
    if (input.length !== T * B * F) throw new ShapeError(`layer ${this.index} (bidirectional): input of ${input.length} values, expected ${T}x${B}x${F}`);
    this.merged = undefined;
    // The reversed input stays in this buffer until the next forward: the backward layer's tape reads it.
    const reversed = reverseTime(input, T, B, F, this.buffer('reversedInput', T * B * F));
    const forward = this.forwardLayer.forward(input, B, mode);
    const backwardOwnOrder = this.backwardLayer.forward(reversed, B, mode);
    const rows = this.sequences ? T * B : B;
    const backward = this.sequences ? reverseTime(backwardOwnOrder, T, B, H, this.buffer('backwardOutput', rows * H)) : backwardOwnOrder;
    const width = this.output.width;
    const out = this.buffer('output', rows * width);
    for (let row = 0; row < rows; row++) {
      const [o, s] = [row * width, row * H];
      for (let j = 0; j < H; j++) {
        const [f, b] = [forward[s + j]!, backward[s + j]!];
        switch (this.mergeMode) {
          case 'concat':
            out[o + j] = f;
            out[o + H + j] = b;
            break;
          case 'sum':
            out[o + j] = f + b;
            break;
          case 'ave':
            out[o + j] = 0.5 * (f + b);
            break;
          case 'mul':
            out[o + j] = f * b;
            break;
        }
      }
    }
    if (mode.training) this.merged = { forward, backward, batch: B };
    return out;
  }

  backward(dOutput: Float32Array, B: number, grads: Float32Array, needInput: boolean): Float32Array {
    const [T, F, H] = [this.steps, this.inputWidth, this.units];
    if (!this.merged || this.merged.batch !== B) throw new ShapeError(`layer ${this.index} (bidirectional): backward without a training forward of ${B} samples`);
    const rows = this.sequences ? T * B : B;
    const width = this.output.width;
    if (dOutput.length !== rows * width) throw new ShapeError(`layer ${this.index} (bidirectional): output gradient of ${dOutput.length} values, expected ${rows * width}`);
    const { forward, backward } = this.merged;
    // Each direction's output gradient, the backward one in that layer's own (reversed) time order.
    const dForward = this.buffer('dForward', rows * H);
    const dBackward = this.buffer('dBackward', rows * H);
    for (let row = 0; row < rows; row++) {
      const [o, s, r] = [row * width, row * H, this.backwardRow(row, B) * H];
      for (let j = 0; j < H; j++) {
        const d = dOutput[o + j]!;
        switch (this.mergeMode) {
          case 'concat':
            dForward[s + j] = d;
            dBackward[r + j] = dOutput[o + H + j]!;
            break;
          case 'sum':
            dForward[s + j] = d;
            dBackward[r + j] = d;
            break;
          case 'ave':
            dForward[s + j] = 0.5 * d;
            dBackward[r + j] = 0.5 * d;
            break;
          case 'mul':
            dForward[s + j] = d * backward[s + j]!;
            dBackward[r + j] = d * forward[s + j]!;
            break;
        }
      }
    }
    const dInputForward = this.forwardLayer.backward(dForward, B, grads, needInput);
    const dInputBackward = this.backwardLayer.backward(dBackward, B, grads, needInput);
    if (!needInput) return NO_INPUT_GRADIENT;
    // The backward layer's input was the reversed sequence: its step T-1-t is the input's step t.
    const dInput = this.buffer('dInput', T * B * F);
    const block = B * F;
    for (let t = 0; t < T; t++) {
      const [at, from] = [t * block, (T - 1 - t) * block];
      for (let k = 0; k < block; k++) dInput[at + k] = dInputForward[at + k]! + dInputBackward[from + k]!;
    }
    return dInput;
  }

  dispose(): void {
    this.forwardLayer.dispose();
    this.backwardLayer.dispose();
  }
}
