import type { ConstantMatrix } from '../gemm/GemmEngine.js';
import type { GateFunctions } from './gateFunctions.js';

/**
 * The GRU's time loops (gru.ts): each step's recurrent products on the engine and the gate
 * arithmetic between them, forward and backward, for both `resetAfter` variants. Rows are
 * time-major, t*B + b; every loop runs in a fixed order.
 */

/** What the loops need of their layer. */
export interface GruCell {
  steps: number;
  units: number;
  /** resetAfter: U [H, 3H]. Otherwise U_zr [H, 2H], the z and r columns. */
  recurrent: ConstantMatrix;
  /** resetAfter false: U_h [H, H], the candidate's columns. */
  candidate?: ConstantMatrix;
  /** resetAfter: c, added to the recurrent products. */
  recurrentBias: Float32Array;
  gateFunctions: GateFunctions;
  /** A row's 3H gate values in float64, between their pre-activations and their activations. */
  rowGates: Float64Array;
  /** The layer's reused working memory, by name. */
  buffer(name: string, length: number): Float32Array;
}

/**
 * What the last training forward keeps for backward: its input, the gate values z, r, hh
 * [T*B, 3H], h_{t-1} in row t*B + b [T*B, H] (zeros for t = 0, see hiddenStates), and the
 * recurrent term [T*B, H] (resetAfter: h_{t-1} U_h + c_h, which dr needs; else r h_{t-1}, which dU_h needs).
 */
export interface GruTape {
  input: Float32Array;
  batch: number;
  gates: Float32Array;
  previousHidden: Float32Array;
  recurrentTerm: Float32Array;
}

/**
 * The forward loops read h_{t-1} from `previousHidden` (zeros at t = 0) and, at t = 0, a zero
 * block for the recurrent product h_{-1} U, which is skipped: adding those zeros gives the bits
 * the product's absence always gave, without a branch per element.
 */
export function forwardResetAfter(cell: GruCell, gates: Float32Array, hidden: Float32Array, previousHidden: Float32Array, recurrentTerm: Float32Array, B: number): void {
  const [T, H, G] = [cell.steps, cell.units, 3 * cell.units];
  const c = cell.recurrentBias;
  const step = cell.buffer('recurrentStep', B * G);
  const noRecurrence = cell.buffer('noRecurrence', B * G).fill(0);
  const [gate, pre] = [cell.gateFunctions, cell.rowGates];
  for (let t = 0; t < T; t++) {
    const m = t > 0 ? cell.recurrent.multiply(hidden.subarray((t - 1) * B * H, t * B * H), B, false, step) : noRecurrence;
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const g = row * G;
      const s = row * H;
      const mb = b * G;
      // z and r, then hh = tanh(x W_h + b_h + r (h U_h + c_h)).
      for (let k = 0; k < 2 * H; k++) pre[k] = gates[g + k]! + (m[mb + k]! + c[k]!);
      gate.sigmoidInPlace(pre, 0, 2 * H);
      for (let j = 0; j < H; j++) {
        const mh = m[mb + 2 * H + j]! + c[2 * H + j]!;
        recurrentTerm[s + j] = mh;
        pre[2 * H + j] = gates[g + 2 * H + j]! + pre[H + j]! * mh;
      }
      gate.tanhInPlace(pre, 2 * H, G);
      for (let j = 0; j < H; j++) {
        const [z, hh] = [pre[j]!, pre[2 * H + j]!];
        gates[g + j] = z;
        gates[g + H + j] = pre[H + j]!;
        gates[g + 2 * H + j] = hh;
        hidden[s + j] = z * previousHidden[s + j]! + (1 - z) * hh;
      }
    }
  }
}

export function forwardResetBefore(cell: GruCell, gates: Float32Array, hidden: Float32Array, previousHidden: Float32Array, resetHidden: Float32Array, B: number): void {
  const [T, H, G] = [cell.steps, cell.units, 3 * cell.units];
  const gateStep = cell.buffer('recurrentStep', B * 2 * H);
  const candidateStep = cell.buffer('candidateStep', B * H);
  const noRecurrence = cell.buffer('noRecurrence', B * 2 * H).fill(0);
  const [gate, pre] = [cell.gateFunctions, cell.rowGates];
  for (let t = 0; t < T; t++) {
    const from = t * B * H;
    const to = from + B * H;
    const m = t > 0 ? cell.recurrent.multiply(hidden.subarray(from - B * H, from), B, false, gateStep) : noRecurrence;
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const g = row * G;
      const s = row * H;
      const mb = b * 2 * H;
      // z and r.
      for (let k = 0; k < 2 * H; k++) pre[k] = gates[g + k]! + m[mb + k]!;
      gate.sigmoidInPlace(pre, 0, 2 * H);
      for (let k = 0; k < 2 * H; k++) gates[g + k] = pre[k]!;
      for (let j = 0; j < H; j++) resetHidden[s + j] = pre[H + j]! * previousHidden[s + j]!;
    }
    const u = t > 0 ? cell.candidate!.multiply(resetHidden.subarray(from, to), B, false, candidateStep) : noRecurrence;
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const g = row * G;
      const s = row * H;
      // hh = tanh(x W_h + b_h + (r h) U_h); z as stored.
      for (let j = 0; j < H; j++) pre[j] = gates[g + 2 * H + j]! + u[b * H + j]!;
      gate.tanhInPlace(pre, 0, H);
      for (let j = 0; j < H; j++) {
        const [z, hh] = [gates[g + j]!, pre[j]!];
        gates[g + 2 * H + j] = hh;
        hidden[s + j] = z * previousHidden[s + j]! + (1 - z) * hh;
      }
    }
  }
}

/** d(loss)/d(gate inputs) of every row, from d(loss)/d(h_t) [T*B, H], walking the steps backward. */
export function backwardResetAfter(cell: GruCell, tape: GruTape, dHidden: Float32Array, B: number, dInputSide: Float32Array, dRecurrentSide: Float32Array): void {
  const [T, H, G] = [cell.steps, cell.units, 3 * cell.units];
  const { gates, previousHidden, recurrentTerm } = tape;
  // d(loss)/d(h_{t-1}) carried from step t to t-1 (nothing into the last step), and its direct part dh z.
  const carry = cell.buffer('dHiddenCarry', B * H).fill(0);
  const direct = cell.buffer('dHiddenDirect', B * H);
  const product = cell.buffer('dHiddenProduct', B * H);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const g = row * G;
      const s = row * H;
      for (let j = 0; j < H; j++) {
        const dh = dHidden[s + j]! + carry[b * H + j]!;
        const z = gates[g + j]!;
        const r = gates[g + H + j]!;
        const hh = gates[g + 2 * H + j]!;
        const hPrev = previousHidden[s + j]!;
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
    cell.recurrent.multiply(dRecurrentSide.subarray(t * B * G, (t + 1) * B * G), B, true, product);
    for (let k = 0; k < B * H; k++) carry[k] = direct[k]! + product[k]!;
  }
}

export function backwardResetBefore(cell: GruCell, tape: GruTape, dHidden: Float32Array, B: number, dInputSide: Float32Array, dGates: Float32Array, dCandidate: Float32Array): void {
  const [T, H, G] = [cell.steps, cell.units, 3 * cell.units];
  const { gates, previousHidden } = tape;
  const carry = cell.buffer('dHiddenCarry', B * H).fill(0);
  const direct = cell.buffer('dHiddenDirect', B * H);
  const dReset = cell.buffer('dResetHidden', B * H);
  const product = cell.buffer('dHiddenProduct', B * H);
  // At t = 0, h_{-1} = 0: r has no effect and nothing flows further back (dq is zero there).
  const noReset = cell.buffer('noReset', B * H).fill(0);
  for (let t = T - 1; t >= 0; t--) {
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const g = row * G;
      const s = row * H;
      for (let j = 0; j < H; j++) {
        const dh = dHidden[s + j]! + carry[b * H + j]!;
        const z = gates[g + j]!;
        const hh = gates[g + 2 * H + j]!;
        const hPrev = previousHidden[s + j]!;
        const dz = dh * (hPrev - hh) * z * (1 - z);
        const dhh = dh * (1 - z) * (1 - hh * hh);
        dInputSide[g + j] = dz;
        dInputSide[g + 2 * H + j] = dhh;
        dGates[row * 2 * H + j] = dz;
        dCandidate[s + j] = dhh;
        direct[b * H + j] = dh * z;
      }
    }
    const u = t > 0 ? cell.candidate!.multiply(dCandidate.subarray(t * B * H, (t + 1) * B * H), B, true, dReset) : noReset;
    for (let b = 0; b < B; b++) {
      const row = t * B + b;
      const g = row * G;
      const s = row * H;
      for (let j = 0; j < H; j++) {
        const r = gates[g + H + j]!;
        const dq = u[b * H + j]!;
        const dr = dq * previousHidden[s + j]! * r * (1 - r);
        dInputSide[g + H + j] = dr;
        dGates[row * 2 * H + H + j] = dr;
        direct[b * H + j] = direct[b * H + j]! + dq * r;
      }
    }
    if (t === 0) break;
    cell.recurrent.multiply(dGates.subarray(t * B * 2 * H, (t + 1) * B * 2 * H), B, true, product);
    for (let k = 0; k < B * H; k++) carry[k] = direct[k]! + product[k]!;
  }
}
