import * as tf from '@tensorflow/tfjs';
import { ShapeError, sigmoid, type LayerSpec } from '@adamant/core';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';
import { matMul, shiftedTranspose, transpose } from './matrix.js';
import { checkRecurrentActivations, checkWeightSize, matrixAndTranspose, NO_INPUT_GRADIENT, recurrentOutput, sequenceInput } from './recurrent.js';

type LstmSpec = Extract<LayerSpec, { type: 'lstm' }>;

/** What the forward pass keeps for the backward pass (time-major: row t*B + b). */
interface LstmTape {
  input: Float32Array;
  batch: number;
  /** Gate activations i, f, g, o per row: [T*B, 4H]. */
  gates: Float32Array;
  /** Cell state c_t and tanh(c_t): [T*B, H]. */
  cells: Float32Array;
  cellTanh: Float32Array;
  /** Hidden state h_t: [T*B, H]. */
  hidden: Float32Array;
}

/**
 * An LSTM layer on the fused path (tfjs-layers' LSTMCell: gates i, f, g, o in the kernel's
 * columns, tanh / sigmoid). The arithmetic goes to few, large matMuls on the backend:
 *
 * - the input projections of all timesteps in one matMul;
 * - one recurrent matMul per timestep forward and one backward (h W_hh, dZ W_hh^T);
 * - the weight gradients of all timesteps in one matMul each (X^T dZ, H_prev^T dZ);
 *
 * and the element-wise gate work runs in plain typed-array loops between them. This is the
 * arithmetic of the original fused LSTM path, operation for operation, so models it trained
 * train to the same bits. Its kernel gradients are written, not added: the model zeroes the
 * gradient vector before each chunk and no other layer touches these entries.
 */
export class FusedLstm implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  private readonly steps: number;
  private readonly inputWidth: number;
  private readonly units: number;
  private readonly returnSequences: boolean;
  private readonly scratch: Scratch;
  /** Offsets of the kernel, the recurrent kernel and the bias in the flat vector. */
  private readonly offsets: [number, number, number];
  private readonly bias: Float32Array;
  /** W [F, 4H] and W^T, U [H, 4H] and U^T on the backend; the transposes feed the backward matMuls. */
  private kernel?: [tf.Tensor2D, tf.Tensor2D];
  private recurrent?: [tf.Tensor2D, tf.Tensor2D];
  private tape?: LstmTape;

  constructor(spec: LstmSpec | Omit<LstmSpec, 'inputShape'>, ctx: LayerContext) {
    checkRecurrentActivations(spec, ctx.index);
    const { steps, width } = sequenceInput(ctx, 'lstm');
    const H = spec.units;
    this.index = ctx.index;
    this.input = ctx.input;
    this.output = recurrentOutput(spec.returnSequences, steps, H);
    this.steps = steps;
    this.inputWidth = width;
    this.units = H;
    this.returnSequences = spec.returnSequences;
    this.scratch = ctx.scratch;
    checkWeightSize(ctx, 0, [width * 4 * H], 'kernel');
    checkWeightSize(ctx, 1, [H * 4 * H], 'recurrent kernel');
    checkWeightSize(ctx, 2, [4 * H], 'bias');
    if (ctx.weights.length !== 3) throw new ShapeError(`layer ${ctx.index} (lstm): has ${ctx.weights.length} weights, expected 3`);
    this.offsets = [ctx.weights[0]!.offset, ctx.weights[1]!.offset, ctx.weights[2]!.offset];
    this.bias = new Float32Array(4 * H);
  }

  setWeights(flat: Float32Array): void {
    const [F, H, G] = [this.inputWidth, this.units, 4 * this.units];
    const [k, r, b] = this.offsets;
    this.disposeTensors();
    this.kernel = matrixAndTranspose(flat.slice(k, k + F * G), F, G);
    this.recurrent = matrixAndTranspose(flat.slice(r, r + H * G), H, G);
    this.bias.set(flat.subarray(b, b + G));
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.lstm.${name}`, length);
  }

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [T, F, H, G] = [this.steps, this.inputWidth, this.units, 4 * this.units];
    if (!this.kernel || !this.recurrent) throw new ShapeError(`layer ${this.index} (lstm): forward before setWeights`);
    if (input.length !== T * B * F) throw new ShapeError(`layer ${this.index} (lstm): input of ${input.length} values, expected ${T}x${B}x${F}`);
    this.tape = undefined;
    // All timesteps' input projections in one matMul; the gates then overwrite it row by row.
    const gates = matMul(input, [T * B, F], this.kernel[0], this.buffer('gates', T * B * G));
    const cells = this.buffer('cells', T * B * H);
    const cellTanh = this.buffer('cellTanh', T * B * H);
    const hidden = this.buffer('hidden', T * B * H);
    const bias = this.bias;
    const recurrentOut = this.buffer('recurrentStep', B * G);
    for (let t = 0; t < T; t++) {
      const recurrent = t > 0 ? matMul(hidden.subarray((t - 1) * B * H, t * B * H), [B, H], this.recurrent[0], recurrentOut) : undefined;
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
    if (mode.training) this.tape = { input, batch: B, gates, cells, cellTanh, hidden };
    return this.returnSequences ? hidden : hidden.subarray((T - 1) * B * H);
  }

  backward(dOutput: Float32Array, B: number, grads: Float32Array, needInput: boolean): Float32Array {
    const [T, F, H, G] = [this.steps, this.inputWidth, this.units, 4 * this.units];
    const tape = this.tape;
    if (!tape || tape.batch !== B) throw new ShapeError(`layer ${this.index} (lstm): backward without a training forward of ${B} samples`);
    const expected = (this.returnSequences ? T : 1) * B * H;
    if (dOutput.length !== expected) throw new ShapeError(`layer ${this.index} (lstm): output gradient of ${dOutput.length} values, expected ${expected}`);
    // d(loss)/d(h_t) for every timestep: without returnSequences, zero except at the last one.
    let dHidden = dOutput;
    if (!this.returnSequences) {
      dHidden = this.buffer('dHidden', T * B * H).fill(0);
      dHidden.set(dOutput, (T - 1) * B * H);
    }
    const { gates, cells, cellTanh } = tape;
    const dZ = this.buffer('dZ', T * B * G);
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
      if (t > 0) dHiddenNext = matMul(dZ.subarray(t * B * G, (t + 1) * B * G), [B, G], this.recurrent![1], dHiddenOut);
    }
    const [kOff, rOff, bOff] = this.offsets;
    // Weight gradients of all timesteps at once: X^T dZ and H_prev^T dZ.
    const dZTensor = tf.tensor2d(dZ, [T * B, G]);
    try {
      const inputT = transpose(tape.input, T * B, F, this.buffer('inputT', T * B * F));
      matMul(inputT, [F, T * B], dZTensor, grads.subarray(kOff, kOff + F * G));
      const hiddenT = shiftedTranspose(tape.hidden, T, B, H, this.buffer('hiddenT', H * T * B));
      matMul(hiddenT, [H, T * B], dZTensor, grads.subarray(rOff, rOff + H * G));
    } finally {
      dZTensor.dispose();
    }
    for (let row = 0; row < T * B; row++) {
      for (let k = 0; k < G; k++) grads[bOff + k] = grads[bOff + k]! + dZ[row * G + k]!;
    }
    return needInput ? matMul(dZ, [T * B, G], this.kernel![1], this.buffer('dInput', T * B * F)) : NO_INPUT_GRADIENT;
  }

  private disposeTensors(): void {
    for (const pair of [this.kernel, this.recurrent]) for (const t of pair ?? []) t.dispose();
  }

  dispose(): void {
    this.disposeTensors();
    this.kernel = this.recurrent = undefined;
    this.tape = undefined;
  }
}
