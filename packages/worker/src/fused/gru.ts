import { ShapeError, type LayerSpec } from '@adamant/core';
import type { ConstantMatrix, GemmEngine } from '../gemm/GemmEngine.js';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';
import { gateFunctionsFor } from './gateFunctions.js';
import { backwardResetAfter, backwardResetBefore, forwardResetAfter, forwardResetBefore, type GruCell, type GruTape } from './gruSteps.js';
import { addInto, checkRecurrentActivations, columnSums, checkWeightSize, hiddenStates, NO_INPUT_GRADIENT, recurrentOutput, sequenceInput } from './recurrent.js';

type GruSpec = Extract<LayerSpec, { type: 'gru' }>;

/**
 * A GRU layer on the fused path, with tfjs-layers' GRUCell semantics (gates z, r, h in the
 * kernel's columns; h_t = z h_{t-1} + (1 - z) hh) and Keras's `resetAfter`:
 *
 * - resetAfter false (tfjs's cell): hh = tanh(x W_h + b_h + (r h_{t-1}) U_h), bias [3H];
 * - resetAfter true (Keras's default): hh = tanh(x W_h + b_h + r (h_{t-1} U_h + c_h)), bias
 *   [2, 3H] with the input bias b in row 0 and the recurrent bias c in row 1.
 *
 * The input projections of all steps are one product on the GEMM engine; each step needs one
 * recurrent product (resetAfter true) or two, since r must be known before (r h) U_h (resetAfter
 * false), and as many backward; the weight gradients of all steps are one product per weight (two
 * for the split recurrent kernel). Gate arithmetic runs in typed-array loops in a fixed order.
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
  /** b: added to the input projections (c, added to the recurrent ones, is the cell's). */
  private readonly inputBias: Float32Array;
  private readonly gemm: GemmEngine;
  /** W [F, 3H], kept by the engine. */
  private readonly kernel: ConstantMatrix;
  /** The recurrent weights and what the time loops need (gruSteps.ts). */
  private readonly cell: GruCell;
  private weightsSet = false;
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
    this.gemm = ctx.gemm;
    this.kernel = ctx.gemm.constantMatrix(width, 3 * H);
    this.cell = {
      steps,
      units: H,
      recurrent: ctx.gemm.constantMatrix(H, (this.resetAfter ? 3 : 2) * H),
      ...(this.resetAfter ? {} : { candidate: ctx.gemm.constantMatrix(H, H) }),
      recurrentBias: new Float32Array(3 * H),
      gateFunctions: gateFunctionsFor(ctx.gemm),
      rowGates: new Float64Array(3 * H),
      buffer: (name, length) => this.buffer(name, length),
    };
  }

  setWeights(flat: Float32Array): void {
    const [F, H, G] = [this.inputWidth, this.units, 3 * this.units];
    const [k, r, b] = this.offsets;
    this.kernel.set(flat.subarray(k, k + F * G));
    const recurrent = flat.subarray(r, r + H * G);
    if (this.resetAfter) {
      this.cell.recurrent.set(recurrent);
      this.cell.recurrentBias.set(flat.subarray(b + G, b + 2 * G));
    } else {
      // The candidate's product waits for r, so its columns are a matrix of their own.
      const gates = this.buffer('recurrentGates', H * 2 * H);
      const candidate = this.buffer('recurrentCandidate', H * H);
      for (let i = 0; i < H; i++) {
        gates.set(recurrent.subarray(i * G, i * G + 2 * H), i * 2 * H);
        candidate.set(recurrent.subarray(i * G + 2 * H, (i + 1) * G), i * H);
      }
      this.cell.recurrent.set(gates);
      this.cell.candidate!.set(candidate);
    }
    this.inputBias.set(flat.subarray(b, b + G));
    this.weightsSet = true;
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.gru.${name}`, length);
  }

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [T, F, H, G] = [this.steps, this.inputWidth, this.units, 3 * this.units];
    if (!this.weightsSet) throw new ShapeError(`layer ${this.index} (gru): forward before setWeights`);
    if (input.length !== T * B * F) throw new ShapeError(`layer ${this.index} (gru): input of ${input.length} values, expected ${T}x${B}x${F}`);
    this.tape = undefined;
    // Every step's input projection in one product, plus the input bias (tfjs's biasAdd, before
    // the recurrent term); the loops then overwrite each row with the gate values z, r, hh.
    const gates = this.kernel.multiply(input, T * B, false, this.buffer('gates', T * B * G));
    const b = this.inputBias;
    for (let row = 0; row < T * B; row++) for (let k = 0; k < G; k++) gates[row * G + k] = gates[row * G + k]! + b[k]!;
    const { hidden, previousHidden } = hiddenStates(this.buffer('hidden', (T + 1) * B * H), T, B, H);
    const recurrentTerm = this.buffer('recurrentTerm', T * B * H);
    if (this.resetAfter) forwardResetAfter(this.cell, gates, hidden, previousHidden, recurrentTerm, B);
    else forwardResetBefore(this.cell, gates, hidden, previousHidden, recurrentTerm, B);
    if (mode.training) this.tape = { input, batch: B, gates, previousHidden, recurrentTerm };
    return this.returnSequences ? hidden : hidden.subarray((T - 1) * B * H);
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
    const previousHidden = tape.previousHidden;
    if (this.resetAfter) {
      // d(loss)/d(h_{t-1} U + c) by gate, every row: it gives dU and dc.
      const dRecurrentSide = this.buffer('dRecurrentSide', T * B * G);
      backwardResetAfter(this.cell, tape, this.outputGradient(dOutput, B), B, dInputSide, dRecurrentSide);
      const dRecurrentKernel = this.buffer('dRecurrentKernel', H * G);
      this.gemm.gemm(true, false, H, G, T * B, previousHidden, dRecurrentSide, dRecurrentKernel);
      addInto(grads, rOff, dRecurrentKernel);
      addInto(grads, bOff + G, columnSums(dRecurrentSide, T * B, G, this.buffer('dRecurrentBias', G)));
    } else {
      const dGates = this.buffer('dGates', T * B * 2 * H);
      const dCandidate = this.buffer('dCandidate', T * B * H);
      backwardResetBefore(this.cell, tape, this.outputGradient(dOutput, B), B, dInputSide, dGates, dCandidate);
      // dU_zr = H_prev^T dZR and dU_h = (r h_prev)^T dHH, interleaved into U's [H, 3H] rows.
      const gatesPart = this.buffer('dRecurrentGates', H * 2 * H);
      const candidatePart = this.buffer('dRecurrentCandidate', H * H);
      this.gemm.gemm(true, false, H, 2 * H, T * B, previousHidden, dGates, gatesPart);
      this.gemm.gemm(true, false, H, H, T * B, tape.recurrentTerm, dCandidate, candidatePart);
      for (let i = 0; i < H; i++) {
        addInto(grads, rOff + i * G, gatesPart.subarray(i * 2 * H, (i + 1) * 2 * H));
        addInto(grads, rOff + i * G + 2 * H, candidatePart.subarray(i * H, (i + 1) * H));
      }
    }
    const dKernel = this.buffer('dKernel', F * G);
    this.gemm.gemm(true, false, F, G, T * B, tape.input, dInputSide, dKernel);
    addInto(grads, kOff, dKernel);
    addInto(grads, bOff, columnSums(dInputSide, T * B, G, this.buffer('dInputBias', G)));
    return needInput ? this.kernel.multiply(dInputSide, T * B, true, this.buffer('dInput', T * B * F)) : NO_INPUT_GRADIENT;
  }

  /** d(loss)/d(h_t) from the output gradient alone, [T*B, H]: every step's, or zeros but the last step's. */
  private outputGradient(dOutput: Float32Array, B: number): Float32Array {
    if (this.returnSequences) return dOutput;
    const [T, H] = [this.steps, this.units];
    const dHidden = this.buffer('dHidden', T * B * H).fill(0);
    dHidden.set(dOutput, (T - 1) * B * H);
    return dHidden;
  }

  dispose(): void {
    this.kernel.dispose();
    this.cell.recurrent.dispose();
    this.cell.candidate?.dispose();
    this.weightsSet = false;
    this.tape = undefined;
  }
}
