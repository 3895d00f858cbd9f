import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@adamant/core';
import { matMul, shiftedTranspose, timeMajor, transpose } from './matrix.js';

describe('matrix helpers', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it('matMul equals a naive triple loop, writes into out and leaves no tensors behind', () => {
    const [n, k, m] = [5, 7, 4];
    const random = mulberry32(2);
    const a = Float32Array.from({ length: n * k }, () => random() * 2 - 1);
    const b = Float32Array.from({ length: k * m }, () => random() * 2 - 1);
    const expected = new Float32Array(n * m);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < m; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[i * k + p]! * b[p * m + j]!;
        expected[i * m + j] = sum;
      }
    }
    const right = tf.tensor2d(b, [k, m]);
    const tensors = tf.memory().numTensors;
    const out = new Float32Array(n * m);
    expect(matMul(a, [n, k], right, out)).toBe(out);
    expect(tf.memory().numTensors).toBe(tensors);
    right.dispose();
    for (let i = 0; i < out.length; i++) expect(Math.abs(out[i]! - expected[i]!), `element ${i}`).toBeLessThanOrEqual(1e-6);
  });

  it('transpose swaps rows and columns', () => {
    // [[1, 2, 3], [4, 5, 6]] -> [[1, 4], [2, 5], [3, 6]]
    expect(Array.from(transpose(Float32Array.from([1, 2, 3, 4, 5, 6]), 2, 3))).toEqual([1, 4, 2, 5, 3, 6]);
  });

  it('shiftedTranspose puts h_{t-1} of each sample in column t*B+b, zeros at t = 0', () => {
    // T = 3, B = 2, H = 2, time-major rows t*B+b: h(t0,b0) = [1, 2], h(t0,b1) = [3, 4], ..., h(t2,b1) = [11, 12].
    const hidden = Float32Array.from({ length: 12 }, (_, i) => i + 1);
    const out = new Float32Array(12).fill(Number.NaN);
    shiftedTranspose(hidden, 3, 2, 2, out);
    // Row j holds unit j; the last timestep's states are never a previous state.
    expect(Array.from(out)).toEqual([0, 0, 1, 3, 5, 7, 0, 0, 2, 4, 6, 8]);
  });

  it('timeMajor reorders sample-major [B, T, F] to rows t*B+b', () => {
    // B = 2, T = 3, F = 2: sample 0 is [0..5], sample 1 is [6..11].
    const x = Float32Array.from({ length: 12 }, (_, i) => i);
    expect(Array.from(timeMajor(x, 2, 3, 2, new Float32Array(12)))).toEqual([0, 1, 6, 7, 2, 3, 8, 9, 4, 5, 10, 11]);
  });
});
