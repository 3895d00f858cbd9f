import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mixSeed, mulberry32 } from '@adamant/core';
import { dropoutMultipliers, FusedDropout } from './dropout.js';
import { Scratch } from './FusedLayer.js';
import { timeMajor } from './matrix.js';
import { WasmGemm } from '../gemm/WasmGemm.js';

describe('fused dropout', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it("draws tf.dropout's multipliers for the same shape and seed, time-major", () => {
    for (const [rate, seed, B, T, W] of [
      [0.5, 1, 3, 4, 5],
      [0.1, mixSeed(7, 2), 2, 6, 3],
      [0.9, 4294967295, 4, 1, 7],
      [1 / 3, 12345, 5, 3, 2],
    ] as const) {
      // tf.dropout of ones is its multiplier tensor, sample-major [B, T, W].
      const expected = tf.tidy(() => tf.dropout(tf.ones([B, T, W]), rate, undefined, seed).dataSync() as Float32Array);
      const actual = dropoutMultipliers(rate, seed, B, T, W, new Float32Array(B * T * W));
      expect(Array.from(actual), `rate ${rate}, seed ${seed}`).toEqual(Array.from(timeMajor(expected, B, T, W, new Float32Array(B * T * W))));
      // Both kept and dropped elements occur, so the comparison means something.
      expect(new Set(actual).size, `rate ${rate}`).toBe(2);
    }
  });

  it('multiplies by the mask forward and backward in training, and passes through in inference', () => {
    const [B, T, W, index, seed] = [3, 4, 2, 5, 99];
    const layer = new FusedDropout({ type: 'dropout', rate: 0.4 }, { index, input: { kind: 'sequence', steps: T, width: W }, weights: [], scratch: new Scratch(), gemm: new WasmGemm() });
    const random = mulberry32(3);
    const x = Float32Array.from({ length: T * B * W }, () => random() * 2 - 1);
    const mask = dropoutMultipliers(0.4, mixSeed(seed, index), B, T, W, new Float32Array(T * B * W));
    const output = layer.forward(x, B, { training: true, seed });
    expect(Array.from(output)).toEqual(Array.from(x, (v, k) => Math.fround(v * mask[k]!)));
    const dOutput = Float32Array.from({ length: T * B * W }, () => random());
    const dInput = layer.backward(dOutput, B, new Float32Array(0), true);
    expect(Array.from(dInput)).toEqual(Array.from(dOutput, (v, k) => Math.fround(v * mask[k]!)));
    expect(layer.forward(x, B, { training: false, seed })).toBe(x);
  });
});
