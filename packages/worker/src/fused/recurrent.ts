import { ShapeError, type RecurrentLayerSpec } from '@adamant/core';
import { type Activations, type LayerContext, Scratch } from './FusedLayer.js';

/**
 * What the fused recurrent layers (gru.ts, bidirectional.ts, and lstm.ts where it uses them)
 * share: their activation support, their input and output shapes, and the small typed-array
 * chores around their matrix products.
 */

/** The activations the fused recurrent cells implement; the fused support check sends other jobs to autodiff. */
export const FUSED_RECURRENT_ACTIVATIONS = { activation: ['tanh'], recurrentActivation: ['sigmoid'] } as const;

/** An empty d(loss)/d(input), returned when the caller does not need it. */
export const NO_INPUT_GRADIENT = new Float32Array(0);

/** Throws unless the cell's activations are the ones FUSED_RECURRENT_ACTIVATIONS lists. */
export function checkRecurrentActivations(spec: RecurrentLayerSpec | Omit<RecurrentLayerSpec, 'inputShape'>, index: number): void {
  const supported = FUSED_RECURRENT_ACTIVATIONS;
  if (!(supported.activation as readonly string[]).includes(spec.activation)) {
    throw new ShapeError(`layer ${index} (${spec.type}): the fused path supports activation ${supported.activation.join(', ')}, not ${spec.activation}`);
  }
  if (!(supported.recurrentActivation as readonly string[]).includes(spec.recurrentActivation)) {
    throw new ShapeError(
      `layer ${index} (${spec.type}): the fused path supports recurrentActivation ${supported.recurrentActivation.join(', ')}, not ${spec.recurrentActivation}`,
    );
  }
}

/** The layer's input as a sequence (steps, width), or a ShapeError naming the layer. */
export function sequenceInput(ctx: LayerContext, type: string): { steps: number; width: number } {
  if (ctx.input.kind !== 'sequence') throw new ShapeError(`layer ${ctx.index} (${type}) needs a sequence input, got a vector of width ${ctx.input.width}`);
  return { steps: ctx.input.steps, width: ctx.input.width };
}

/** A recurrent layer's output: every step's hidden state, or only the last one. */
export function recurrentOutput(returnSequences: boolean, steps: number, width: number): Activations {
  return returnSequences ? { kind: 'sequence', steps, width } : { kind: 'vector', width };
}

/** Checks that weight `position` of a layer holds `size` floats, naming the layer and weight otherwise. */
export function checkWeightSize(ctx: LayerContext, position: number, sizes: readonly number[], what: string): void {
  const entry = ctx.weights[position];
  if (!entry) throw new ShapeError(`layer ${ctx.index}: has ${ctx.weights.length} weights, expected a ${what} at position ${position}`);
  if (!sizes.includes(entry.size)) {
    throw new ShapeError(`layer ${ctx.index}: weight ${entry.name} (${what}) has ${entry.size} values, expected ${sizes.join(' or ')}`);
  }
}

/** Time-major [T*B, width] with the steps in reverse order (step t becomes step T-1-t). */
export function reverseTime(x: Float32Array, T: number, B: number, width: number, out: Float32Array): Float32Array {
  const block = B * width;
  for (let t = 0; t < T; t++) out.set(x.subarray(t * block, (t + 1) * block), (T - 1 - t) * block);
  return out;
}

/** grads[offset + k] += values[k]: weight gradients are added, so layers may share one vector. */
export function addInto(grads: Float32Array, offset: number, values: Float32Array): void {
  for (let k = 0; k < values.length; k++) grads[offset + k] = grads[offset + k]! + values[k]!;
}

/** out[k] = the sum of column k of a row-major [rows, cols] matrix, added row by row (a bias gradient). */
export function columnSums(values: Float32Array, rows: number, cols: number, out: Float32Array): Float32Array {
  out.fill(0);
  for (let row = 0; row < rows; row++) for (let k = 0; k < cols; k++) out[k] = out[k]! + values[row * cols + k]!;
  return out;
}

/**
 * The hidden states of a sequence in a buffer of (T+1)*B*H values: `hidden` [T*B, H] holds h_t in
 * row t*B + b, and `previousHidden`, the same memory one block of B rows earlier, holds h_{t-1}
 * there, zeros for t = 0. The weight gradient H_prev^T dZ then reads it in place, without a copy.
 */
export function hiddenStates(buffer: Float32Array, T: number, B: number, H: number): { hidden: Float32Array; previousHidden: Float32Array } {
  buffer.fill(0, 0, B * H);
  return { hidden: buffer.subarray(B * H, (T + 1) * B * H), previousHidden: buffer.subarray(0, T * B * H) };
}

/**
 * A view of a Scratch whose names carry a prefix, so that two copies of a layer with the same
 * model index (a bidirectional layer's forward and backward halves) keep separate buffers.
 */
export class PrefixedScratch extends Scratch {
  constructor(
    private readonly parent: Scratch,
    private readonly prefix: string,
  ) {
    super();
  }

  override get(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.parent.get(`${this.prefix}${name}`, length);
  }
}
