import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Scratch } from './FusedLayer.js';
import { timeMajor } from './matrix.js';
import { FusedGlobalPooling1d } from './pooling.js';
import { WasmGemm } from '../gemm/WasmGemm.js';

const [B, T, W] = [2, 4, 3];

/** Sample-major [B, T, W] with ties: sample 0's column 0 peaks at steps 1 and 3. */
const x = Float32Array.from([
  [1, 0, -1, 5, 2, -2, 0, 0, -3, 5, 1, -1],
  [0.5, 0.25, 2, 0.5, 0.75, 1, -1, 0.75, 1, 0, 0, 3],
].flat());
const dy = Float32Array.from([1, 2, 3, 4, 5, 6]);

describe('fused global pooling', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  for (const type of ['globalAveragePooling1d', 'globalMaxPooling1d'] as const) {
    it(`${type}: tfjs's values and gradient, ties included`, () => {
      const reduce = (input: tf.Tensor) => (type === 'globalMaxPooling1d' ? tf.max(input, 1) : tf.mean(input, 1));
      const [values, gradient] = tf.tidy(() => {
        const input = tf.tensor3d(x, [B, T, W]);
        const grad = tf.grad((v: tf.Tensor) => tf.sum(tf.mul(reduce(v), tf.tensor2d(dy, [B, W]))))(input);
        return [reduce(input).dataSync() as Float32Array, grad.dataSync() as Float32Array];
      });
      const layer = new FusedGlobalPooling1d({ type }, { index: 2, input: { kind: 'sequence', steps: T, width: W }, weights: [], scratch: new Scratch(), gemm: new WasmGemm() });
      expect(layer.output).toEqual({ kind: 'vector', width: W });
      const output = layer.forward(timeMajor(x, B, T, W, new Float32Array(x.length)), B, { training: true, seed: 0 });
      expect(Array.from(output)).toEqual(Array.from(values));
      const dInput = layer.backward(dy.slice(), B, new Float32Array(0), true);
      expect(Array.from(dInput)).toEqual(Array.from(timeMajor(gradient, B, T, W, new Float32Array(x.length))));
    });
  }
});
