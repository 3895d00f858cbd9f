import type * as tf from '@tensorflow/tfjs';
import { ShapeError, sigmoid, type LayerSpec } from '@adamant/core';
import { matMul, shiftedTranspose, transpose } from './matrix.js';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';
import { addInto, checkRecurrentActivations, columnSums, checkWeightSize, matrixAndTranspose, NO_INPUT_GRADIENT, product, recurrentOutput, sequenceInput } from './recurrent.js';

type GruSpec = Extract<LayerSpec, { type: 'gru' }>;
type GruTape = { input: Float32Array; batch: number; gates: Float32Array; hidden: Float32Array; recurrentTerm: Float32Array };

/**
 * A GRU layer on the fused path, with tfjs-layers' GRUCell semantics (gates z, r, h in the
 * kernel's columns; h_t = z h_{t-1} + (1 - z) hh) and Keras's `resetAfter`:
 *
 * - resetAfter false (tfjs's cell): hh = tanh(x W_h + b_h + (r h_{t-1}) U_h), bias [3H];
 * - resetAfter true (Keras's default): hh = tanh(x W_h + b_h + r (h_{t-1} U_h + c_h)), bias
 *   [2, 3H] with the input bias b in row 0 and the recurrent bias c in row 1.
 *
 * The input projections of all steps are one matMul; each step needs one recurrent matMul
 * (resetAfter true) or two, since r must be known before (r h) U_h (resetAfter false), and as
 * many backward; the weight gradients of all steps are one matMul per weight (two for the split
 * recurrent kernel). Gate arithmetic runs in typed-array loops in a fixed order.
 */
export class FusedGru implements FusedLayer {
  readonly index: number;
  readonly input: Activations;
  readonly output: Activations;
  private readonly steps: number;
  private readonly inputWidth: number;
  private readonly units: number;
  private readonly resetAfter: boolean;
  private readonly returnSequences: boolean;
  private readonly scratch: Scratch;
  /** Offsets of the kernel, the recurrent kernel and the bias in the flat vector. */
  private readonly offsets: [number, number, number];
  /** b: added to the input projections; c: to the recurrent ones (resetAfter only, else zeros). */
  private readonly inputBias: Float32Array;
  private readonly recurrentBias: Float32Array;
  /** W [F, 3H] and W^T. */
  private kernel?: [tf.Tensor2D, tf.Tensor2D];
  /** resetAfter: U [H, 3H] and U^T. Otherwise U_zr [H, 2H] and U_zr^T, the z and r columns. */
  private recurrent?: [tf.Tensor2D, tf.Tensor2D];
  /** resetAfter false: U_h [H, H] and U_h^T, the candidate's columns. */
  private candidate?: [tf.Tensor2D, tf.Tensor2D];
  /**
   * What the last training forward keeps for backward (time-major rows t*B + b): its input, the
   * gate values z, r, hh [T*B, 3H], the hidden states [T*B, H] and the recurrent term [T*B, H]
   * (resetAfter: h_{t-1} U_h + c_h, which dr needs; else r h_{t-1}, which dU_h needs).
   */
  private tape?: GruTape;

  constructor(spec: GruSpec | Omit<GruSpec, 'inputShape'>, ctx: LayerContext) {
    checkRecurrentActivations(spec, ctx.index);
    const { steps, width } = sequenceInput(ctx, 'gru');
    const H = spec.units;
    this.index = ctx.index;
    this.input = ctx.input;
    this.output = recurrentOutput(spec.returnSequences, steps, H);
    this.steps = steps;
    this.inputWidth = width;
    this.units = H;
    this.resetAfter = spec.resetAfter;
    this.returnSequences = spec.returnSequences;
    this.scratch = ctx.scratch;
    checkWeightSize(ctx, 0, [width * 3 * H], 'kernel');
    checkWeightSize(ctx, 1, [H * 3 * H], 'recurrent kernel');
    checkWeightSize(ctx, 2, [(this.resetAfter ? 6 : 3) * H], 'bias');
    if (ctx.weights.length !== 3) throw new ShapeError(`layer ${ctx.index} (gru): has ${ctx.weights.length} weights, expected 3`);
    this.offsets = [ctx.weights[0]!.offset, ctx.weights[1]!.offset, ctx.weights[2]!.offset];
    this.inputBias = new Float32Array(3 * H);
    this.recurrentBias = new Float32Array(3 * H);
  }

  setWeights(flat: Float32Array): void {
    const [F, H, G] = [this.inputWidth, this.units, 3 * this.units];
    const [k, r, b] = this.offsets;
    this.disposeTensors();
    this.kernel = matrixAndTranspose(flat.slice(k, k + F * G), F, G);
    const recurrent = flat.subarray(r, r + H * G);
    if (this.resetAfter) {
      this.recurrent = matrixAndTranspose(recurrent.slice(), H, G);
      this.recurrentBias.set(flat.subarray(b + G, b + 2 * G));
    } else {
      // The candidate's product waits for r, so its columns are a matrix of their own.
      const gates = new Float32Array(H * 2 * H);
      const candidate = new Float32Array(H * H);
      for (let i = 0; i < H; i++) {
        gates.set(recurrent.subarray(i * G, i * G + 2 * H), i * 2 * H);
        candidate.set(recurrent.subarray(i * G + 2 * H, (i + 1) * G), i * H);
      }
      this.recurrent = matrixAndTranspose(gates, H, 2 * H);
      this.candidate = matrixAndTranspose(candidate, H, H);
    }
    this.inputBias.set(flat.subarray(b, b + G));
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.gru.${name}`, length);
  }

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [T, F, H, G] = [this.steps, this.inputWidth, this.units, 3 * this.units];
    if (!this.kernel || !this.recurrent) throw new ShapeError(`layer ${this.index} (gru): forward before setWeights`);
    if (input.length !== T * B * F) throw new ShapeError(`layer ${this.index} (gru): input of ${input.length} values, expected ${T}x${B}x${F}`);
    this.tape = undefined;
    // Every step's input projection in one matMul, plus the input bias (tfjs's biasAdd, before
    // the recurrent term); the loops then overwrite each row with the gate values z, r, hh.
    const gates = matMul(input, [T * B, F], this.kernel[0], this.buffer('gates', T * B * G));
    const b = this.inputBias;
    for (let row = 0; row < T * B; row++) for (let k = 0; k < G; k++) gates[row * G + k] = gates[row * G + k]! + b[k]!;
    const hidden = this.buffer('hidden', T * B * H);
    const recurrentTerm = this.buffer('recurrentTerm', T * B * H);
    if (this.resetAfter) this.forwardResetAfter(gates, hidden, recurrentTerm, B);
    else this.forwardResetBefore(gates, hidden, recurrentTerm, B);
    if (mode.training) this.tape = { input, batch: B, gates, hidden, recurrentTerm };
    return this.returnSequences ? hidden : hidden.subarray((T - 1) * B * H);
  }

  private forwardResetAfter(gates: Float32Array, hidden: Float32Array, recurrentTerm: Float32Array, B: number): void {
    const [T, H, G] = [this.steps, this.units, 3 * this.units];
    const c = this.recurrentBias;
    const step = this.buffer('recurrentStep', B * G);
    for (let t = 0; t < T; t++) {
      // h_{-1} = 0, so the first step's recurrent product is zero and is skipped.
      const m = t > 0 ? matMul(hidden.subarray((t - 1) * B * H, t * B * H), [B, H], this.recurrent![0], step) : undefined;
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [g, s, mb] = [row * G, row * H, b * G];
        for (let j = 0; j < H; j++) {
          const hPrev = t > 0 ? hidden[s - B * H + j]! : 0;
          const z = sigmoid(gates[g + j]! + ((m ? m[mb + j]! : 0) + c[j]!));
          const r = sigmoid(gates[g + H + j]! + ((m ? m[mb + H + j]! : 0) + c[H + j]!));
          const mh = (m ? m[mb + 2 * H + j]! : 0) + c[2 * H + j]!;
          const hh = Math.tanh(gates[g + 2 * H + j]! + r * mh);
          gates[g + j] = z;
          gates[g + H + j] = r;
          gates[g + 2 * H + j] = hh;
          recurrentTerm[s + j] = mh;
          hidden[s + j] = z * hPrev + (1 - z) * hh;
        }
      }
    }
  }

  private forwardResetBefore(gates: Float32Array, hidden: Float32Array, resetHidden: Float32Array, B: number): void {
    const [T, H, G] = [this.steps, this.units, 3 * this.units];
    const gateStep = this.buffer('recurrentStep', B * 2 * H);
    const candidateStep = this.buffer('candidateStep', B * H);
    for (let t = 0; t < T; t++) {
      const [from, to] = [t * B * H, (t + 1) * B * H];
      const m = t > 0 ? matMul(hidden.subarray(from - B * H, from), [B, H], this.recurrent![0], gateStep) : undefined;
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [g, s, mb] = [row * G, row * H, b * 2 * H];
        for (let j = 0; j < H; j++) {
          const hPrev = t > 0 ? hidden[s - B * H + j]! : 0;
          const z = sigmoid(gates[g + j]! + (m ? m[mb + j]! : 0));
          const r = sigmoid(gates[g + H + j]! + (m ? m[mb + H + j]! : 0));
          gates[g + j] = z;
          gates[g + H + j] = r;
          resetHidden[s + j] = r * hPrev;
        }
      }
      const u = t > 0 ? matMul(resetHidden.subarray(from, to), [B, H], this.candidate![0], candidateStep) : undefined;
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [g, s] = [row * G, row * H];
        for (let j = 0; j < H; j++) {
          const hPrev = t > 0 ? hidden[s - B * H + j]! : 0;
          const z = gates[g + j]!;
          const hh = Math.tanh(gates[g + 2 * H + j]! + (u ? u[b * H + j]! : 0));
          gates[g + 2 * H + j] = hh;
          hidden[s + j] = z * hPrev + (1 - z) * hh;
        }
      }
    }
  }

  backward(dOutput: Float32Array, B: number, grads: Float32Array, needInput: boolean): Float32Array {
    const [T, F, H, G] = [this.steps, this.inputWidth, this.units, 3 * this.units];
    const tape = this.tape;
    if (!tape || tape.batch !== B) throw new ShapeError(`layer ${this.index} (gru): backward without a training forward of ${B} samples`);
    const expected = (this.returnSequences ? T : 1) * B * H;
    if (dOutput.length !== expected) throw new ShapeError(`layer ${this.index} (gru): output gradient of ${dOutput.length} values, expected ${expected}`);
    // d(loss)/d(x W + b) by gate, every row: it gives dW, db and d(input).
    const dInputSide = this.buffer('dInputSide', T * B * G);
    const [kOff, rOff, bOff] = this.offsets;
    const hiddenT = shiftedTranspose(tape.hidden, T, B, H, this.buffer('hiddenT', H * T * B));
    if (this.resetAfter) {
      // d(loss)/d(h_{t-1} U + c) by gate, every row: it gives dU and dc.
      const dRecurrentSide = this.buffer('dRecurrentSide', T * B * G);
      this.backwardResetAfter(tape, dOutput, B, dInputSide, dRecurrentSide);
      addInto(grads, rOff, product(hiddenT, [H, T * B], dRecurrentSide, G, this.buffer('dRecurrentKernel', H * G)));
      addInto(grads, bOff + G, columnSums(dRecurrentSide, T * B, G, this.buffer('dRecurrentBias', G)));
    } else {
      const dGates = this.buffer('dGates', T * B * 2 * H);
      const dCandidate = this.buffer('dCandidate', T * B * H);
      this.backwardResetBefore(tape, dOutput, B, dInputSide, dGates, dCandidate);
      // dU_zr = H_prev^T dZR and dU_h = (r h_prev)^T dHH, interleaved into U's [H, 3H] rows.
      const gatesPart = this.buffer('dRecurrentGates', H * 2 * H);
      const candidatePart = this.buffer('dRecurrentCandidate', H * H);
      product(hiddenT, [H, T * B], dGates, 2 * H, gatesPart);
      const resetHiddenT = transpose(tape.recurrentTerm, T * B, H, this.buffer('recurrentTermT', H * T * B));
      product(resetHiddenT, [H, T * B], dCandidate, H, candidatePart);
      for (let i = 0; i < H; i++) {
        addInto(grads, rOff + i * G, gatesPart.subarray(i * 2 * H, (i + 1) * 2 * H));
        addInto(grads, rOff + i * G + 2 * H, candidatePart.subarray(i * H, (i + 1) * H));
      }
    }
    const inputT = transpose(tape.input, T * B, F, this.buffer('inputT', F * T * B));
    addInto(grads, kOff, product(inputT, [F, T * B], dInputSide, G, this.buffer('dKernel', F * G)));
    addInto(grads, bOff, columnSums(dInputSide, T * B, G, this.buffer('dInputBias', G)));
    return needInput ? matMul(dInputSide, [T * B, G], this.kernel![1], this.buffer('dInput', T * B * F)) : NO_INPUT_GRADIENT;
  }

  /** d(loss)/d(h_t) from the output gradient alone: every step's, or only the last step's. */
  private outputGradient(dOutput: Float32Array, t: number, B: number, at: number): number {
    if (this.returnSequences) return dOutput[t * B * this.units + at]!;
    return t === this.steps - 1 ? dOutput[at]! : 0;
  }

  private backwardResetAfter(tape: GruTape, dOutput: Float32Array, B: number, dInputSide: Float32Array, dRecurrentSide: Float32Array): void {
    const [T, H, G] = [this.steps, this.units, 3 * this.units];
    const { gates, hidden, recurrentTerm } = tape;
    // d(loss)/d(h_{t-1}) carried from step t to t-1, and its direct part dh z.
    const carry = this.buffer('dHiddenCarry', B * H);
    const direct = this.buffer('dHiddenDirect', B * H);
    const product = this.buffer('dHiddenProduct', B * H);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [g, s] = [row * G, row * H];
        for (let j = 0; j < H; j++) {
          const dh = this.outputGradient(dOutput, t, B, b * H + j) + (t < T - 1 ? carry[b * H + j]! : 0);
          const [z, r, hh] = [gates[g + j]!, gates[g + H + j]!, gates[g + 2 * H + j]!];
          const hPrev = t > 0 ? hidden[s - B * H + j]! : 0;
          const dz = dh * (hPrev - hh) * z * (1 - z);
          const dhh = dh * (1 - z) * (1 - hh * hh);
          const dr = dhh * recurrentTerm[s + j]! * r * (1 - r);
          dInputSide[g + j] = dz;
          dInputSide[g + H + j] = dr;
          dInputSide[g + 2 * H + j] = dhh;
          dRecurrentSide[g + j] = dz;
          dRecurrentSide[g + H + j] = dr;
          dRecurrentSide[g + 2 * H + j] = dhh * r;
          direct[b * H + j] = dh * z;
        }
      }
      if (t === 0) break;
      matMul(dRecurrentSide.subarray(t * B * G, (t + 1) * B * G), [B, G], this.recurrent![1], product);
      for (let k = 0; k < B * H; k++) carry[k] = direct[k]! + product[k]!;
    }
  }

  private backwardResetBefore(tape: GruTape, dOutput: Float32Array, B: number, dInputSide: Float32Array, dGates: Float32Array, dCandidate: Float32Array): void {
    const [T, H, G] = [this.steps, this.units, 3 * this.units];
    const { gates, hidden } = tape;
    const carry = this.buffer('dHiddenCarry', B * H);
    const direct = this.buffer('dHiddenDirect', B * H);
    const dReset = this.buffer('dResetHidden', B * H);
    const product = this.buffer('dHiddenProduct', B * H);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [g, s] = [row * G, row * H];
        for (let j = 0; j < H; j++) {
          const dh = this.outputGradient(dOutput, t, B, b * H + j) + (t < T - 1 ? carry[b * H + j]! : 0);
          const [z, hh] = [gates[g + j]!, gates[g + 2 * H + j]!];
          const hPrev = t > 0 ? hidden[s - B * H + j]! : 0;
          const dz = dh * (hPrev - hh) * z * (1 - z);
          const dhh = dh * (1 - z) * (1 - hh * hh);
          dInputSide[g + j] = dz;
          dInputSide[g + 2 * H + j] = dhh;
          dGates[row * 2 * H + j] = dz;
          dCandidate[s + j] = dhh;
          direct[b * H + j] = dh * z;
        }
      }
      // At t = 0, h_{-1} = 0: r has no effect and nothing flows further back.
      const u = t > 0 ? matMul(dCandidate.subarray(t * B * H, (t + 1) * B * H), [B, H], this.candidate![1], dReset) : undefined;
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [g, s] = [row * G, row * H];
        for (let j = 0; j < H; j++) {
          const r = gates[g + H + j]!;
          const dq = u ? u[b * H + j]! : 0;
          const dr = t > 0 ? dq * hidden[s - B * H + j]! * r * (1 - r) : 0;
          dInputSide[g + H + j] = dr;
          dGates[row * 2 * H + H + j] = dr;
          direct[b * H + j] = direct[b * H + j]! + dq * r;
        }
      }
      if (t === 0) break;
      matMul(dGates.subarray(t * B * 2 * H, (t + 1) * B * 2 * H), [B, 2 * H], this.recurrent![1], product);
      for (let k = 0; k < B * H; k++) carry[k] = direct[k]! + product[k]!;
    }
  }

  private disposeTensors(): void {
    for (const pair of [this.kernel, this.recurrent, this.candidate]) for (const t of pair ?? []) t.dispose();
  }

  dispose(): void {
    this.disposeTensors();
    this.kernel = this.recurrent = this.candidate = undefined;
    this.tape = undefined;
  }
}
