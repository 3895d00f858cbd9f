import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ACTIVATION_NAMES, type ActivationName } from '../config/names.js';
import { mulberry32 } from '../rng.js';
import { activate, activationBackward } from './activations.js';

const ROWS = 4;
const WIDTH = 5;

/** tfjs-layers' own activation, as a Dense layer applies it. */
const tfActivation = (name: ActivationName, z: tf.Tensor): tf.Tensor => tf.layers.activation({ activation: name }).apply(z) as tf.Tensor;

/** max |actual - expected| <= 1e-5 x max(|expected|, 1e-3): relative to the values' scale. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  let scale = 1e-3;
  let worst = 0;
  for (let k = 0; k < expected.length; k++) {
    scale = Math.max(scale, Math.abs(expected[k]!));
    worst = Math.max(worst, Math.abs(actual[k]! - expected[k]!));
  }
  expect(actual.length, what).toBe(expected.length);
  expect(worst / scale, what).toBeLessThanOrEqual(1e-5);
}

/** Pre-activations in [-3, 3], none at 0 (where relu's derivative is a convention). */
function randomZ(seed: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: ROWS * WIDTH }, () => {
    const v = random() * 6 - 3;
    return Math.abs(v) < 1e-3 ? 0.5 : v;
  });
}

describe('activations on typed arrays', () => {
  for (const name of ACTIVATION_NAMES) {
    it(`${name}: values and gradients equal tfjs-layers' activation`, () => {
      const z = randomZ(name.length * 31 + 7);
      const dp = randomZ(name.length * 17 + 3);
      const p = activate(name, z, ROWS, WIDTH, new Float32Array(ROWS * WIDTH));
      const expected = tf.tidy(() => tfActivation(name, tf.tensor2d(z, [ROWS, WIDTH])).dataSync());
      expectClose(p, expected, `${name} values`);

      const dz = activationBackward(name, z, p, dp, ROWS, WIDTH, new Float32Array(ROWS * WIDTH));
      const expectedDz = tf.tidy(() => {
        const upstream = tf.tensor2d(dp, [ROWS, WIDTH]);
        return tf
          .grad((input: tf.Tensor) => tf.sum(tf.mul(tfActivation(name, input), upstream)))(tf.tensor2d(z, [ROWS, WIDTH]))
          .dataSync();
      });
      expectClose(dz, expectedDz, `${name} gradients`);

      // In place: activate may write over z, activationBackward over dp.
      const inPlace = Float32Array.from(z);
      expect([...activate(name, inPlace, ROWS, WIDTH, inPlace)]).toEqual([...p]);
      const dpInPlace = Float32Array.from(dp);
      expect([...activationBackward(name, z, p, dpInPlace, ROWS, WIDTH, dpInPlace)]).toEqual([...dz]);
    });
  }

  it('softmax normalises each row on its own, and stays finite for large inputs', () => {
    const z = Float32Array.of(1000, 1001, 999, -5, 0, 5);
    const p = activate('softmax', z, 2, 3, new Float32Array(6));
    expect(p.every(Number.isFinite)).toBe(true);
    expect(p[0]! + p[1]! + p[2]!).toBeCloseTo(1, 6);
    expect(p[3]! + p[4]! + p[5]!).toBeCloseTo(1, 6);
    expectClose(
      p,
      tf.tidy(() => tf.softmax(tf.tensor2d(z, [2, 3])).dataSync()),
      'softmax of large inputs',
    );
  });
});
