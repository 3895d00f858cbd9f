import { ShapeError, type LayerSpec } from '@adamant/core';
import type { ConstantMatrix, GemmEngine } from '../gemm/GemmEngine.js';
import type { Activations, ForwardMode, FusedLayer, LayerContext, Scratch } from './FusedLayer.js';
import { type GateFunctions, gateFunctionsFor } from './gateFunctions.js';
import { checkRecurrentActivations, checkWeightSize, hiddenStates, NO_INPUT_GRADIENT, recurrentOutput, sequenceInput } from './recurrent.js';

type LstmSpec = Extract<LayerSpec, { type: 'lstm' }>;

/** What the forward pass keeps for the backward pass (time-major: row t*B + b). */
interface LstmTape {
  input: Float32Array;
  batch: number;
  /** Gate activations i, f, g, o per row: [T*B, 4H]. */
  gates: Float32Array;
  /** Cell states c_{t-1} then c_t in row t*B + b of [(T+1)*B, H] (zeros first), and tanh(c_t) [T*B, H]. */
  cellStates: Float32Array;
  cellTanh: Float32Array;
  /** Hidden states h_{t-1}, [T*B, H]: zeros for t = 0, then h_0 .. h_{T-2} (the buffer that holds h_t, one block earlier). */
  previousHidden: Float32Array;
}

/**
 * An LSTM layer on the fused path (tfjs-layers' LSTMCell: gates i, f, g, o in the kernel's
 * columns, tanh / sigmoid). The arithmetic goes to few, large products on the GEMM engine:
 *
 * - the input projections of all timesteps in one product;
 * - one recurrent product per timestep forward and one backward (h W_hh, dZ W_hh^T);
 * - the weight gradients of all timesteps in one product each (X^T dZ, H_prev^T dZ);
 *
 * and the element-wise gate work runs in plain typed-array loops between them, with the engine's
 * gate functions (gateFunctions.ts). On the wasm engine this is the arithmetic of the original
 * fused LSTM path, operation for operation, so models it trained train to the same bits. Its kernel gradients are written, not added: the model zeroes
 * the gradient vector before each chunk and no other layer touches these entries.
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
  private readonly gemm: GemmEngine;
  private readonly gateFunctions: GateFunctions;
  /** Working rows of the forward loop: a row's 4H gate values and H cell states. */
  private readonly rowGates: Float64Array;
  private readonly rowCells: Float64Array;
  /** W [F, 4H] and U [H, 4H], kept by the engine. */
  private readonly kernel: ConstantMatrix;
  private readonly recurrent: ConstantMatrix;
  private weightsSet = false;
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
    this.gemm = ctx.gemm;
    this.gateFunctions = gateFunctionsFor(ctx.gemm);
    this.rowGates = new Float64Array(4 * H);
    this.rowCells = new Float64Array(H);
    this.kernel = ctx.gemm.constantMatrix(width, 4 * H);
    this.recurrent = ctx.gemm.constantMatrix(H, 4 * H);
  }

  setWeights(flat: Float32Array): void {
    const [F, H, G] = [this.inputWidth, this.units, 4 * this.units];
    const [k, r, b] = this.offsets;
    this.kernel.set(flat.subarray(k, k + F * G));
    this.recurrent.set(flat.subarray(r, r + H * G));
    this.bias.set(flat.subarray(b, b + G));
    this.weightsSet = true;
  }

  private buffer(name: string, length: number): Float32Array<ArrayBuffer> {
    return this.scratch.get(`${this.index}.lstm.${name}`, length);
  }

  forward(input: Float32Array, B: number, mode: ForwardMode): Float32Array {
    const [T, F, H, G] = [this.steps, this.inputWidth, this.units, 4 * this.units];
    if (!this.weightsSet) throw new ShapeError(`layer ${this.index} (lstm): forward before setWeights`);
    if (input.length !== T * B * F) throw new ShapeError(`layer ${this.index} (lstm): input of ${input.length} values, expected ${T}x${B}x${F}`);
    this.tape = undefined;
    // All timesteps' input projections in one product; the gates then overwrite it row by row.
    const gates = this.kernel.multiply(input, T * B, false, this.buffer('gates', T * B * G));
    const cellTanh = this.buffer('cellTanh', T * B * H);
    const { hidden, previousHidden } = hiddenStates(this.buffer('hidden', (T + 1) * B * H), T, B, H);
    // c_{t-1} of row t*B + b sits at that row of cellStates, c_t one block later: c_{-1} = 0 needs no branch.
    const cellStates = this.buffer('cells', (T + 1) * B * H);
    cellStates.fill(0, 0, B * H);
    const bias = this.bias;
    const recurrentOut = this.buffer('recurrentStep', B * G);
    // h_{-1} = 0: no product at t = 0, and adding these zeros gives the bits the product's absence always gave.
    const noRecurrence = this.buffer('noRecurrence', B * G).fill(0);
    const gate = this.gateFunctions;
    // One row's pre-activations, then activations, and its cell states, in float64 (the values the gates always had).
    const [pre, cell] = [this.rowGates, this.rowCells];
    for (let t = 0; t < T; t++) {
      const recurrent = t > 0 ? this.recurrent.multiply(hidden.subarray((t - 1) * B * H, t * B * H), B, false, recurrentOut) : noRecurrence;
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const z = row * G;
        const s = row * H;
        const r = b * G;
        const next = s + B * H;
        for (let k = 0; k < G; k++) pre[k] = gates[z + k]! + recurrent[r + k]! + bias[k]!;
        // i and f, g, o.
        gate.sigmoidInPlace(pre, 0, 2 * H);
        gate.tanhInPlace(pre, 2 * H, 3 * H);
        gate.sigmoidInPlace(pre, 3 * H, G);
        for (let j = 0; j < H; j++) {
          const [i, f, g, o] = [pre[j]!, pre[H + j]!, pre[2 * H + j]!, pre[3 * H + j]!];
          const c = f * cellStates[s + j]! + i * g;
          gates[z + j] = i;
          gates[z + H + j] = f;
          gates[z + 2 * H + j] = g;
          gates[z + 3 * H + j] = o;
          cellStates[next + j] = c;
          cell[j] = c;
        }
        gate.tanhInPlace(cell, 0, H);
        for (let j = 0; j < H; j++) {
          cellTanh[s + j] = cell[j]!;
          hidden[s + j] = pre[3 * H + j]! * cell[j]!;
        }
      }
    }
    if (mode.training) this.tape = { input, batch: B, gates, cellStates, cellTanh, previousHidden };
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
    const { gates, cellStates, cellTanh } = tape;
    const dZ = this.buffer('dZ', T * B * G);
    const dCellNext = this.buffer('dCellNext', B * H).fill(0);
    // d(loss)/d(h_t) through h_{t+1}: zeros at the last step, then each step's product.
    let dHiddenNext: Float32Array = this.buffer('dHiddenNext', B * H).fill(0);
    for (let t = T - 1; t >= 0; t--) {
      for (let b = 0; b < B; b++) {
        const row = t * B + b;
        const [z, s, n] = [row * G, row * H, b * H];
        for (let j = 0; j < H; j++) {
          const dh = dHidden[s + j]! + dHiddenNext[n + j]!;
          const i = gates[z + j]!;
          const f = gates[z + H + j]!;
          const g = gates[z + 2 * H + j]!;
          const o = gates[z + 3 * H + j]!;
          const tc = cellTanh[s + j]!;
          const dc = dh * o * (1 - tc * tc) + dCellNext[n + j]!;
          dZ[z + j] = dc * g * i * (1 - i);
          dZ[z + H + j] = dc * cellStates[s + j]! * f * (1 - f);
          dZ[z + 2 * H + j] = dc * i * (1 - g * g);
          dZ[z + 3 * H + j] = dh * tc * o * (1 - o);
          dCellNext[n + j] = dc * f;
        }
      }
      if (t > 0) dHiddenNext = this.recurrent.multiply(dZ.subarray(t * B * G, (t + 1) * B * G), B, true, dHiddenNext);
    }
    const [kOff, rOff, bOff] = this.offsets;
    // Weight gradients of all timesteps at once: X^T dZ and H_prev^T dZ.
    this.gemm.gemmShared(true, G, T * B, dZ, [
      { M: F, a: tape.input, out: grads.subarray(kOff, kOff + F * G) },
      { M: H, a: tape.previousHidden, out: grads.subarray(rOff, rOff + H * G) },
    ]);
    for (let row = 0; row < T * B; row++) {
      for (let k = 0; k < G; k++) grads[bOff + k] = grads[bOff + k]! + dZ[row * G + k]!;
    }
    return needInput ? this.kernel.multiply(dZ, T * B, true, this.buffer('dInput', T * B * F)) : NO_INPUT_GRADIENT;
  }

  dispose(): void {
    this.kernel.dispose();
    this.recurrent.dispose();
    this.weightsSet = false;
    this.tape = undefined;
  }
}
