import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, ShapeError } from '@adamant/core';
import type { GemmEngine } from './GemmEngine.js';
import { probeGemmEngines } from './loadGemmEngine.js';
import { transpose, valuesOf, WasmGemm } from './WasmGemm.js';

const uniform = (length: number, seed: number) => {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => random() * 2 - 1);
};

/** op(a) op(b) in double precision, from a stored as [K, M] when transA and b as [N, K] when transB. */
function reference(transA: boolean, transB: boolean, M: number, N: number, K: number, a: Float32Array, b: Float32Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < N; j++) {
      let sum = 0;
      for (let p = 0; p < K; p++) sum += a[transA ? p * M + i : i * K + p]! * b[transB ? j * K + p : p * N + j]!;
      out[i * N + j] = sum;
    }
  }
  return out;
}

/** Every element within 1e-5 of the reference, relative to max(1, |reference|). */
function expectClose(actual: Float32Array, expected: Float64Array, name: string): void {
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  expect(worst, name).toBeLessThanOrEqual(1e-5);
}

const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength).toString('hex');

/** Odd shapes [M, N, K]: single rows and columns, sizes that fill no SIMD register or cache block evenly. */
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 5, 7],
  [17, 1, 9],
  [1, 13, 33],
  [33, 65, 17],
  [64, 129, 100],
];
const FLAGS = [
  [false, false],
  [true, false],
  [false, true],
  [true, true],
] as const;

for (const { name, engine, unavailable } of probeGemmEngines()) {
  // OpenBLAS is installed here and in CI; elsewhere its suite is skipped, with the reason in its name.
  describe.skipIf(!engine)(`the ${name} GEMM engine${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
    let gemm: GemmEngine;
    beforeAll(async () => {
      tf.enableProdMode();
      await tf.setBackend('cpu');
      gemm = engine!;
    });

    for (const [transA, transB] of FLAGS) {
      it(`gemm with transA ${transA}, transB ${transB} equals a float64 reference on odd shapes`, () => {
        for (const [M, N, K] of SHAPES) {
          const [a, b] = [uniform(M * K, M + K), uniform(K * N, N + 2 * K)];
          // Operands that are views at an offset, and an output longer than the product, whose tail stays untouched.
          const [aView, bView] = [new Float32Array(M * K + 3), new Float32Array(K * N + 5)];
          aView.set(a, 3);
          bView.set(b, 5);
          const out = new Float32Array(M * N + 2).fill(7);
          gemm.gemm(transA, transB, M, N, K, aView.subarray(3), bView.subarray(5), out);
          expectClose(out.subarray(0, M * N), reference(transA, transB, M, N, K, a, b), `[${M}x${K}] x [${K}x${N}]`);
          expect(Array.from(out.subarray(M * N))).toEqual([7, 7]);
        }
      });
    }

    it('a constant matrix multiplies as itself and as its transpose, and takes new values', () => {
      const [rows, cols, M] = [19, 37, 6];
      const matrix = gemm.constantMatrix(rows, cols);
      for (const seed of [1, 2]) {
        const values = uniform(rows * cols, seed);
        matrix.set(values);
        const [left, leftT] = [uniform(M * rows, seed + 10), uniform(M * cols, seed + 20)];
        expectClose(matrix.multiply(left, M, false, new Float32Array(M * cols)), reference(false, false, M, cols, rows, left, values), 'a W');
        expectClose(matrix.multiply(leftT, M, true, new Float32Array(M * rows)), reference(false, true, M, rows, cols, leftT, values), 'a W^T');
      }
      matrix.dispose();
      expect(() => matrix.multiply(new Float32Array(M * rows), M, false, new Float32Array(M * cols))).toThrow(ShapeError);
    });

    it('repeated calls give the same bits', () => {
      const [M, N, K] = [64, 512, 192];
      const [a, b] = [uniform(M * K, 3), uniform(K * N, 4)];
      const first = new Float32Array(M * N);
      gemm.gemm(false, true, M, N, K, a, b, first);
      const again = new Float32Array(M * N);
      for (let call = 0; call < 20; call++) {
        again.fill(0);
        gemm.gemm(false, true, M, N, K, a, b, again);
        expect(bits(again), `call ${call}`).toBe(bits(first));
      }
    });

    it('an empty inner dimension gives zeros; operands too short are refused before anything is read', () => {
      const out = new Float32Array(6).fill(3);
      gemm.gemm(false, false, 2, 3, 0, new Float32Array(0), new Float32Array(0), out);
      expect(Array.from(out)).toEqual([0, 0, 0, 0, 0, 0]);
      expect(() => gemm.gemm(false, false, 2, 3, 4, new Float32Array(7), new Float32Array(12), new Float32Array(6))).toThrow(/gemm \[2x4\] x \[4x3\]: operands/);
      expect(() => gemm.gemm(true, false, 2, 3, 4, new Float32Array(8), new Float32Array(12), new Float32Array(5))).toThrow(ShapeError);
      expect(() => gemm.constantMatrix(4, 4).set(new Float32Array(15))).toThrow(ShapeError);
    });
  });
}

describe('the wasm engine keeps the fused path as it was', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it('every product is a plain tfjs matMul of explicitly transposed operands, bit for bit', () => {
    const gemm = new WasmGemm();
    const [M, N, K] = [7, 9, 11];
    const [a, b] = [uniform(M * K, 5), uniform(K * N, 6)];
    for (const [transA, transB] of FLAGS) {
      const out = new Float32Array(M * N);
      gemm.gemm(transA, transB, M, N, K, a, b, out);
      const left = tf.tensor2d(transA ? transpose(a, K, M) : a, [M, K]);
      const right = tf.tensor2d(transB ? transpose(b, N, K) : b, [K, N]);
      const product = tf.matMul(left, right);
      expect(bits(out), `transA ${transA}, transB ${transB}`).toBe(bits(valuesOf(product).slice()));
      tf.dispose([left, right, product]);
    }
  });

  it('leaves no tensors behind but a constant matrix and its transpose, freed by dispose', () => {
    const gemm = new WasmGemm();
    const before = tf.memory().numTensors;
    gemm.gemm(true, true, 3, 4, 5, uniform(15, 1), uniform(20, 2), new Float32Array(12));
    expect(tf.memory().numTensors).toBe(before);
    const matrix = gemm.constantMatrix(5, 4);
    matrix.set(uniform(20, 3));
    matrix.set(uniform(20, 4));
    matrix.multiply(uniform(15, 5), 3, false, new Float32Array(12));
    expect(tf.memory().numTensors).toBe(before + 2);
    matrix.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('transpose swaps rows and columns', () => {
    // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]]
    expect(Array.from(transpose(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
  });
});
