import { distinctRows, ShapeError, type LayerSpec } from '@adamant/core';
import { checkTokenIds, type SparseRows } from '../GradientPath.js';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';

type EmbeddingSpec = Extract<LayerSpec, { type: 'embedding' }>;

/**
 * The embedding on the fused path, in typed-array loops: the lookup of a chunk's tokens and the
 * scatter-add of their gradient into the touched rows. Token ids come sample-major [B, T] (as
 * floats); embedded rows go time-major, row t*B + b.
 */

/** Looks up token ids into a time-major [T*B, dim] input, written into `out`. */
export function lookupTokens(ids: Float32Array, table: Float32Array, dim: number, B: number, T: number, out: Float32Array): Float32Array {
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const id = ids[b * T + t]!;
      out.set(table.subarray(id * dim, id * dim + dim), (t * B + b) * dim);
    }
  }
  return out;
}

/** Scatter-adds d(loss)/d(embedded input), time-major [T*B, dim], into the rows of the tokens that produced it. */
export function scatterTokenGradients(ids: Float32Array, dInput: Float32Array, vocabulary: number, dim: number, B: number, T: number): SparseRows {
  const rows = distinctRows([ids], vocabulary);
  const slot = new Int32Array(vocabulary);
  rows.forEach((id, k) => {
    slot[id] = k;
  });
  const values = new Float32Array(rows.length * dim);
  // Fixed order (sample, then position): the sums are bitwise reproducible.
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      const at = slot[ids[b * T + t]!]! * dim;
      const from = (t * B + b) * dim;
      for (let e = 0; e < dim; e++) values[at + e] = values[at + e]! + dInput[from + e]!;
    }
  }
  return { rows, values };
}

/**
 * The first layer of a text model. Its gradient is sparse: backward leaves `grads` alone (the
 * table is most of the model, and a chunk touches few rows) and keeps the touched rows for
 * `sparseGradient()`, which the model sends as the chunk's `sparse` part.
 */
export class FusedEmbedding implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  readonly vocabulary: number;
  private readonly dim: number;
  private readonly steps: number;
  private readonly scratch: Scratch;
  private readonly tableOffset: number;
  private table: Float32Array = new Float32Array(0);
  /** The token ids of the last training forward, which backward scatters into. */
  private tape?: { ids: Float32Array; batch: number };
  private sparse?: SparseRows;

  /** `ctx.input` is the token ids: a vector of `steps` ids per sample. */
  constructor(spec: EmbeddingSpec, ctx: LayerContext) {
    if (ctx.input.kind !== 'vector') throw new ShapeError(`layer ${ctx.index} (embedding): its input is token ids, one vector per sample`);
    const entry = ctx.weights[0];
    if (ctx.weights.length !== 1 || !entry || entry.size !== spec.inputDim * spec.outputDim) {
      throw new ShapeError(`layer ${ctx.index} (embedding): expected one ${spec.inputDim}x${spec.outputDim} table`);
    }
    this.index = ctx.index;
    this.input = ctx.input;
    this.steps = ctx.input.width;
    this.output = { kind: 'sequence', steps: this.steps, width: spec.outputDim };
    this.vocabulary = spec.inputDim;
    this.dim = spec.outputDim;
    this.scratch = ctx.scratch;
    this.tableOffset = entry.offset;
  }

  setWeights(flat: Float32Array): void {
    // A view, not a copy: the table is most of the model, and the caller keeps `flat` unchanged until the next call.
    this.table = flat.subarray(this.tableOffset, this.tableOffset + this.vocabulary * this.dim);
  }

  forward(ids: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const T = this.steps;
    if (ids.length !== B * T) throw new ShapeError(`layer ${this.index} (embedding): ${ids.length} token ids, expected ${B}x${T}`);
    checkTokenIds(ids, T, this.vocabulary);
    this.tape = mode.training ? { ids, batch: B } : undefined;
    this.sparse = undefined;
    return lookupTokens(ids, this.table, this.dim, B, T, this.scratch.get(`${this.index}.embedding.output`, T * B * this.dim));
  }

  /** Keeps the table's gradient as touched rows (see sparseGradient); there is no input gradient. */
  backward(dOutput: Float32Array, B: number, _grads: Float32Array, _needInput: boolean): Float32Array {
    if (!this.tape || this.tape.batch !== B) throw new ShapeError(`layer ${this.index} (embedding): backward without a training forward of ${B} samples`);
    this.sparse = scatterTokenGradients(this.tape.ids, dOutput, this.vocabulary, this.dim, B, this.steps);
    return new Float32Array(0);
  }

  /** The table's gradient from the last backward: ascending row ids and their summed values. */
  sparseGradient(): SparseRows {
    if (!this.sparse) throw new ShapeError(`layer ${this.index} (embedding): no gradient before a backward`);
    return this.sparse;
  }

  dispose(): void {
    this.tape = undefined;
    this.sparse = undefined;
  }
}
