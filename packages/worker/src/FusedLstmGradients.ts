import * as tf from '@tensorflow/tfjs';
import { ParamLayout, ShapeError, buildModel, type LayerSpec, type ResolvedBackend, type WorkerJob } from '@adamant/core';
import { lookupTokens, scatterTokenGradients } from './embedding.js';
import { headForward, sigmoid, type FusedHeadSpec } from './fusedHead.js';
import { fusedLstmSupport } from './fusedLstmSupport.js';
import { checkTokenIds, type ChunkGradient, type GradientPath, type SparseRows } from './GradientPath.js';
import { matMul, shiftedTranspose, timeMajor, transpose } from './matrix.js';

type LstmSpec = Extract<LayerSpec, { type: 'lstm' }>;

interface LstmWeights {
  spec: LstmSpec;
  inputDim: number;
  units: number;
  /** [inputDim, 4H], [4H, inputDim], [H, 4H], [4H, H] on the backend; the transposes feed the backward matMuls. */
  kernel?: tf.Tensor2D;
  kernelT?: tf.Tensor2D;
  recurrent?: tf.Tensor2D;
  recurrentT?: tf.Tensor2D;
  bias: Float32Array;
  /** Offsets of kernel, recurrent kernel and bias in the flat vector. */
  offsets: [number, number, number];
}

/** What a layer's forward pass keeps for its backward pass (all time-major: row t*B + b). */
interface LstmTape {
  input: Float32Array;
  /** Gate activations i, f, g, o per row: [T*B, 4H]. */
  gates: Float32Array;
  /** Cell state c_t and tanh(c_t): [T*B, H]. */
  cells: Float32Array;
  cellTanh: Float32Array;
  /** Hidden state h_t: [T*B, H]. */
  hidden: Float32Array;
}

/**
 * A chunk's gradient for Embedding -> LSTM... -> Dense models without tfjs autodiff, which on
 * pure backends spends its time in per-timestep op overhead (and cannot differentiate an
 * Embedding on wasm at all). The arithmetic goes to few, large matMuls on the backend:
 *
 * - the input projections of all timesteps in one matMul per layer;
 * - one recurrent matMul per timestep forward and one backward (h W_hh, dZ W_hh^T);
 * - the weight gradients of all timesteps in one matMul each (X^T dZ, H_prev^T dZ);
 *
 * and the element-wise gate work runs in plain typed-array loops between them. The embedding
 * lookup and its gradient (a scatter-add into the touched rows) are typed-array loops too
 * (embedding.ts), as is the head's loss (fusedHead.ts). Only jobs that fusedLstmSupport accepts
 * construct; createGradientPath sends the rest to AutodiffGradients. Every operation has fixed shapes and order, so a chunk's result is bitwise the same on a
 * given backend whichever worker computes it. Tested against tfjs autodiff.
 */
export class FusedLstmGradients implements GradientPath {
  readonly paramCount: number;
  private readonly layout: ParamLayout;
  private readonly embedding?: { vocabulary: number; dim: number; table: Float32Array };
  private readonly lstms: LstmWeights[];
  private readonly head: { spec: FusedHeadSpec; kernel: Float32Array; bias: number; offsets: [number, number] };
  private readonly timesteps: number;
  /** Features per timestep of the raw input (1 token id with an embedding). */
  private readonly inputFeatures: number;
  private readonly denseOffset: number;
  /**
   * Reused working memory, by purpose. Fresh large arrays cost a page fault per 4 KiB on first
   * touch, which here cost more than the arithmetic; these are allocated once per chunk size.
   */
  private readonly scratch = new Map<string, Float32Array<ArrayBuffer>>();
  private grads = new Float32Array(0);

  constructor(
    readonly job: WorkerJob,
    readonly backend: ResolvedBackend,
  ) {
    const support = fusedLstmSupport(job);
    if (!support.ok) throw new ShapeError(`the fused LSTM path does not support this model: ${support.reason}`);
    // The layout (names, shapes, order) comes from the very model tfjs would build.
    const model = buildModel(job.layers, job.seed, { initialize: false });
    this.layout = ParamLayout.fromModel(model);
    model.dispose();
    this.paramCount = this.layout.size;
    if (this.paramCount !== job.paramCount) {
      throw new ShapeError(`the model has ${this.paramCount} parameters, but the coordinator's has ${job.paramCount}`);
    }
    const entries = [...this.layout.entries];
    const take = () => {
      const entry = entries.shift();
      if (!entry) throw new ShapeError('the model has fewer weights than its layers need');
      return entry;
    };
    let layers = job.layers;
    let inputDim: number;
    const first = layers[0]!;
    if (first.type === 'embedding') {
      const table = take();
      this.embedding = { vocabulary: first.inputDim, dim: first.outputDim, table: new Float32Array(table.size) };
      this.timesteps = first.inputLength ?? job.inputShape[0]!;
      this.inputFeatures = 1;
      inputDim = first.outputDim;
      layers = layers.slice(1);
    } else {
      const shape = (first as LstmSpec).inputShape!;
      this.timesteps = shape[0]!;
      this.inputFeatures = shape[1]!;
      inputDim = shape[1]!;
    }
    this.denseOffset = this.embedding ? this.layout.entries[0]!.size : 0;
    this.lstms = [];
    for (const spec of layers.slice(0, -1) as LstmSpec[]) {
      const kernel = take();
      const recurrent = take();
      const bias = take();
      this.lstms.push({ spec, inputDim, units: spec.units, bias: new Float32Array(bias.size), offsets: [kernel.offset, recurrent.offset, bias.offset] });
      inputDim = spec.units;
    }
    const kernel = take();
    const bias = take();
    this.head = { spec: support.head, kernel: new Float32Array(kernel.size), bias: 0, offsets: [kernel.offset, bias.offset] };
  }

  setWeights(flat: Float32Array): void {
    if (flat.length !== this.paramCount) throw new ShapeError(`expected ${this.paramCount} parameters, got ${flat.length}`);
    // A view, not a copy: the table is most of the model, and the caller keeps `flat` unchanged until the next call.
    if (this.embedding) this.embedding.table = flat.subarray(0, this.embedding.table.length);
    for (const layer of this.lstms) {
      const g = 4 * layer.units;
      const [k, r, b] = layer.offsets;
      for (const t of [layer.kernel, layer.kernelT, layer.recurrent, layer.recurrentT]) t?.dispose();
      const kernel = flat.slice(k, k + layer.inputDim * g);
      const recurrent = flat.slice(r, r + layer.units * g);
      layer.kernel = tf.tensor2d(kernel, [layer.inputDim, g]);
      layer.kernelT = tf.tensor2d(transpose(kernel, layer.inputDim, g), [g, layer.inputDim]);
      layer.recurrent = tf.tensor2d(recurrent, [layer.units, g]);
      layer.recurrentT = tf.tensor2d(transpose(recurrent, layer.units, g), [g, layer.units]);
      layer.bias.set(flat.subarray(b, b + g));
    }
    const [k, b] = this.head.offsets;
    this.head.kernel.set(flat.subarray(k, k + this.head.kernel.length));
    this.head.bias = flat[b]!;
  }

  /** A reused buffer of `length` floats; its contents are stale, so callers overwrite or clear it. */
  private buffer(key: string, length: number): Float32Array<ArrayBuffer> {
    let buffer = this.scratch.get(key);
    if (!buffer || buffer.length < length) {
      buffer = new Float32Array(length);
      this.scratch.set(key, buffer);
    }
    return buffer.subarray(0, length);
  }

  /** The arrays it returns are reused: they stay valid until the next call. */
  compute(x: Float32Array, y: Float32Array, samples: number, _seed: number): ChunkGradient {
    const B = samples;
    const T = this.timesteps;
    if (x.length !== B * T * this.inputFeatures || y.length !== B) {
      throw new ShapeError(`chunk of ${B} samples has ${x.length} inputs and ${y.length} targets; expected ${B * T * this.inputFeatures} and ${B}`);
    }
    if (this.grads.length !== this.paramCount) this.grads = new Float32Array(this.paramCount);
    const grads = this.grads;
    grads.fill(0);

    // Forward.
    let input: Float32Array = this.embedding ? this.embed(x, B) : timeMajor(x, B, T, this.inputFeatures, this.buffer('input', x.length));
    const tapes: LstmTape[] = [];
    for (const [l, layer] of this.lstms.entries()) {
      const tape = this.lstmForward(layer, l, input, B);
      tapes.push(tape);
      input = tape.hidden;
    }
    const top = this.lstms.at(-1)!;
    const H = top.units;
    const last = input.subarray((T - 1) * B * H, T * B * H);
    const { lossSum, metricSums, dLogits } = headForward(this.head.spec, this.head.kernel, this.head.bias, last, y, B, H);

    // Backward: the head, then each LSTM from the top, then the embedding rows.
    const [hk, hb] = this.head.offsets;
    // d(loss)/d(h_t) of the top LSTM: zero except at the last timestep, which feeds the head.
    let dHidden: Float32Array = this.buffer('dTop', T * B * H).fill(0);
    const dLast = dHidden.subarray((T - 1) * B * H);
    for (let b = 0; b < B; b++) {
      const d = dLogits[b]!;
      grads[hb] = grads[hb]! + d;
      for (let j = 0; j < H; j++) {
        grads[hk + j] = grads[hk + j]! + last[b * H + j]! * d;
        dLast[b * H + j] = d * this.head.kernel[j]!;
      }
    }
    for (let l = this.lstms.length - 1; l >= 0; l--) {
      dHidden = this.lstmBackward(this.lstms[l]!, l, tapes[l]!, dHidden, B, grads, l > 0 || this.embedding !== undefined);
    }
    let sparse: SparseRows | undefined;
    if (this.embedding) sparse = scatterTokenGradients(x, dHidden, this.embedding.vocabulary, this.embedding.dim, B, T);
    return { dense: grads.subarray(this.denseOffset), ...(sparse ? { sparse } : {}), lossSum, metricSums };
  }

  /** Looks up token ids (sample-major [B, T]) into a time-major [T*B, E] input. */
  private embed(ids: Float32Array, B: number): Float32Array {
    const { vocabulary, dim, table } = this.embedding!;
    const T = this.timesteps;
    checkTokenIds(ids, T, vocabulary);
    return lookupTokens(ids, table, dim, B, T, this.buffer('embedded', T * B * dim));
  }

  private lstmForward(layer: LstmWeights, l: number, input: Float32Array, B: number): LstmTape {
    const T = this.timesteps;
    const H = layer.units;
    const G = 4 * H;
    // All timesteps' input projections in one matMul; the gates then overwrite it row by row.
    const gates = matMul(input, [T * B, layer.inputDim], layer.kernel!, this.buffer(`gates${l}`, T * B * G));
    const cells = this.buffer(`cells${l}`, T * B * H);
    const cellTanh = this.buffer(`cellTanh${l}`, T * B * H);
    const hidden = this.buffer(`hidden${l}`, T * B * H);
    const bias = layer.bias;
    const recurrentOut = this.buffer('recurrent', B * G);
    for (let t = 0; t < T; t++) {
      const recurrent = t > 0 ? matMul(hidden.subarray((t - 1) * B * H, t * B * H), [B, H], layer.recurrent!, recurrentOut) : undefined;
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const z = row * G;
        const s = row * H;
        const prev = (row - B) * H;
        for (let j = 0; j < H; j++) {
          const r = recurrent ? b * G : 0;
          const i = sigmoid(gates[z + j]! + (recurrent ? recurrent[r + j]! : 0) + bias[j]!);
          const f = sigmoid(gates[z + H + j]! + (recurrent ? recurrent[r + H + j]! : 0) + bias[H + j]!);
          const g = Math.tanh(gates[z + 2 * H + j]! + (recurrent ? recurrent[r + 2 * H + j]! : 0) + bias[2 * H + j]!);
          const o = sigmoid(gates[z + 3 * H + j]! + (recurrent ? recurrent[r + 3 * H + j]! : 0) + bias[3 * H + j]!);
          const c = f * (t > 0 ? cells[prev + j]! : 0) + i * g;
          const tc = Math.tanh(c);
          gates[z + j] = i;
          gates[z + H + j] = f;
          gates[z + 2 * H + j] = g;
          gates[z + 3 * H + j] = o;
          cells[s + j] = c;
          cellTanh[s + j] = tc;
          hidden[s + j] = o * tc;
        }
      }
    }
    return { input, gates, cells, cellTanh, hidden };
  }

  /**
   * Backpropagates through one LSTM layer given d(loss)/d(h_t) for every timestep; adds the
   * layer's weight gradients into `grads` and returns d(loss)/d(input) when `needInput`.
   */
  private lstmBackward(layer: LstmWeights, l: number, tape: LstmTape, dHidden: Float32Array, B: number, grads: Float32Array, needInput: boolean): Float32Array {
    const T = this.timesteps;
    const H = layer.units;
    const G = 4 * H;
    const { gates, cells, cellTanh } = tape;
    const dZ = this.buffer(`dZ${l}`, T * B * G);
    const dCellNext = this.buffer('dCellNext', B * H).fill(0);
    const dHiddenOut = this.buffer('dHiddenNext', B * H);
    let dHiddenNext: Float32Array | undefined;
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const z = row * G;
        const s = row * H;
        const prev = (row - B) * H;
        for (let j = 0; j < H; j++) {
          const dh = dHidden[s + j]! + (dHiddenNext ? dHiddenNext[b * H + j]! : 0);
          const i = gates[z + j]!;
          const f = gates[z + H + j]!;
          const g = gates[z + 2 * H + j]!;
          const o = gates[z + 3 * H + j]!;
          const tc = cellTanh[s + j]!;
          const dc = dh * o * (1 - tc * tc) + dCellNext[b * H + j]!;
          const cPrev = t > 0 ? cells[prev + j]! : 0;
          dZ[z + j] = dc * g * i * (1 - i);
          dZ[z + H + j] = dc * cPrev * f * (1 - f);
          dZ[z + 2 * H + j] = dc * i * (1 - g * g);
          dZ[z + 3 * H + j] = dh * tc * o * (1 - o);
          dCellNext[b * H + j] = dc * f;
        }
      }
      if (t > 0) dHiddenNext = matMul(dZ.subarray(t * B * G, (t + 1) * B * G), [B, G], layer.recurrentT!, dHiddenOut);
    }
    const [kOff, rOff, bOff] = layer.offsets;
    // Weight gradients of all timesteps at once: X^T dZ and H_prev^T dZ.
    const dZTensor = tf.tensor2d(dZ, [T * B, G]);
    try {
      const inputT = transpose(tape.input, T * B, layer.inputDim, this.buffer('inputT', T * B * layer.inputDim));
      matMul(inputT, [layer.inputDim, T * B], dZTensor, grads.subarray(kOff, kOff + layer.inputDim * G));
      const hiddenT = shiftedTranspose(tape.hidden, T, B, H, this.buffer('hiddenT', H * T * B));
      matMul(hiddenT, [H, T * B], dZTensor, grads.subarray(rOff, rOff + H * G));
    } finally {
      dZTensor.dispose();
    }
    for (let row = 0; row < T * B; row++) {
      for (let k = 0; k < G; k++) grads[bOff + k] = grads[bOff + k]! + dZ[row * G + k]!;
    }
    return needInput ? matMul(dZ, [T * B, G], layer.kernelT!, this.buffer(`dInput${l}`, T * B * layer.inputDim)) : new Float32Array(0);
  }

  dispose(): void {
    for (const layer of this.lstms) for (const t of [layer.kernel, layer.kernelT, layer.recurrent, layer.recurrentT]) t?.dispose();
  }
}
