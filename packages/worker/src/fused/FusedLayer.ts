import type { ParamEntry } from '@adamant/core';
import type { GemmEngine } from '../gemm/GemmEngine.js';

/**
 * The contract between the fused path's layers. A fused model is a stack of FusedLayers, each
 * computing its forward and backward pass on row-major Float32Arrays (large products on the
 * model's GEMM engine, element-wise work in plain loops), in a fixed order so that a chunk's
 * result is bitwise the same whichever worker computes it on a given engine.
 */

/** What flows between layers, per sample: a sequence of `steps` vectors, or one vector. */
export type Activations = { kind: 'sequence'; steps: number; width: number } | { kind: 'vector'; width: number };

/**
 * Memory layouts: a sequence batch is time-major, [T*B, width] with row t*B + b for sample b at
 * step t; a vector batch is [B, width]. Every layer reads and writes these layouts.
 */
export interface ForwardMode {
  /** true: keep what backward needs and apply dropout; false: inference. */
  training: boolean;
  /** The chunk's seed (dropout masks derive from it and the layer's index in the model). */
  seed: number;
}

export interface FusedLayer {
  /** The layer's index in the job's `model` list (names it in errors; keys its dropout seed). */
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  /** Reads this layer's weights from the full flat parameter vector. */
  setWeights(flat: Float32Array): void;
  /**
   * `input` in the layout of `this.input` for B samples. Returns the output in the layout of
   * `this.output`; the returned array may be a reused buffer, valid until the next forward.
   */
  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array;
  /**
   * Backpropagates d(loss)/d(output) through the last training forward: adds the layer's weight
   * gradients into `grads` (indexed like the full flat parameter vector) and returns
   * d(loss)/d(input) when `needInput` (else an empty array). May overwrite `dOutput`.
   */
  backward(dOutput: Float32Array, B: number, grads: Float32Array, needInput: boolean): Float32Array;
  dispose(): void;
}

/** What a layer's constructor receives besides its spec. */
export interface LayerContext {
  index: number;
  input: Activations;
  /** The layer's weights in the parameter layout, in tfjs's order (kernel, recurrent kernel, bias, ...). */
  weights: readonly ParamEntry[];
  scratch: Scratch;
  /** The engine every matrix product of the model runs on. */
  gemm: GemmEngine;
}

/**
 * Reused working memory, by name. Fresh large arrays cost a page fault per 4 KiB on first
 * touch, which here costs more than the arithmetic; buffers grow once per chunk size and stay.
 * Names must be unique per use (prefix them with the layer index).
 */
export class Scratch {
  private readonly buffers = new Map<string, Float32Array<ArrayBuffer>>();

  /** A buffer of `length` floats; its contents are stale, so callers overwrite or clear it. */
  get(name: string, length: number): Float32Array<ArrayBuffer> {
    let buffer = this.buffers.get(name);
    if (!buffer || buffer.length < length) {
      buffer = new Float32Array(length);
      this.buffers.set(name, buffer);
    }
    return buffer.subarray(0, length);
  }
}
