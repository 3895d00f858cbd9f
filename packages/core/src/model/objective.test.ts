import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import type { ActivationName, LossName } from '../config/names.js';
import { mulberry32 } from '../rng.js';
import { perSampleLoss } from './losses.js';
import { HUBER_DELTA, headLoss } from './objective.js';

const B = 6;

/** The loss sum and d(sum)/dz as tfjs computes them: tfjs-layers' activation, then the per-sample loss (losses.ts), through tf.grad. */
function tfjsObjective(activation: ActivationName, loss: LossName, z: Float32Array, y: Float32Array, C: number): { sum: number; dz: Float32Array } {
  return tf.tidy(() => {
    const targets = tf.tensor2d(y, [B, 1]);
    const objective = (logits: tf.Tensor) => tf.sum(perSampleLoss(loss, targets, tf.layers.activation({ activation }).apply(logits) as tf.Tensor));
    const logits = tf.tensor2d(z, [B, C]);
    return { sum: objective(logits).dataSync()[0]!, dz: tf.grad(objective)(logits).dataSync() as Float32Array };
  });
}

/** |actual - expected| <= 1e-5 x max(|expected|, floor) for a number, and over an array's scale. */
function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, floor = 1e-4): void {
  let scale = floor;
  let worst = 0;
  for (let k = 0; k < expected.length; k++) {
    scale = Math.max(scale, Math.abs(expected[k]!));
    worst = Math.max(worst, Math.abs(actual[k]! - expected[k]!));
  }
  expect(worst / scale, `${what}: worst ${worst}, scale ${scale}`).toBeLessThanOrEqual(1e-5);
}

function check(activation: ActivationName, loss: LossName, z: Float32Array, y: Float32Array, C: number): void {
  const what = `${loss} with ${activation}, C = ${C}`;
  const p = new Float32Array(B * C);
  const dz = new Float32Array(B * C);
  const sum = headLoss({ activation, loss, units: C }, z, y, B, p, dz);
  const expected = tfjsObjective(activation, loss, z, y, C);
  expectClose([sum], [expected.sum], `${what}: loss sum`);
  expectClose(dz, expected.dz, `${what}: gradient`);
  // Without dz only the loss is computed, and it is the same.
  expect(headLoss({ activation, loss, units: C }, z, y, B, new Float32Array(B * C))).toBe(sum);
}

/** Pre-activations in [-spread, spread], kept away from 0 (relu's kink). */
function logits(seed: number, C: number, spread: number): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length: B * C }, () => {
    const v = (random() * 2 - 1) * spread;
    return Math.abs(v) < 1e-3 ? 0.25 : v;
  });
}

const classes = (seed: number, C: number): Float32Array => {
  const random = mulberry32(seed);
  return Float32Array.from({ length: B }, () => Math.floor(random() * C));
};

describe('headLoss against tfjs autodiff', () => {
  it('binaryCrossentropy with a sigmoid head, saturated outputs included (the clip zeroes their gradient)', () => {
    check('sigmoid', 'binaryCrossentropy', logits(1, 1, 3), Float32Array.of(0, 1, 1, 0, 1, 0), 1);
    check('sigmoid', 'binaryCrossentropy', Float32Array.of(20, -20, 20, -20, 0.5, -0.5), Float32Array.of(1, 0, 0, 1, 1, 0), 1);
  });

  for (const loss of ['sparseCategoricalCrossentropy', 'categoricalCrossentropy'] as const) {
    it(`${loss} with a softmax head, C = 2 and 3`, () => {
      check('softmax', loss, logits(2, 3, 3), classes(3, 3), 3);
      check('softmax', loss, logits(4, 2, 3), classes(5, 2), 2);
    });

    it(`${loss} with a softmax head, confident rows included (outputs below the clip)`, () => {
      // Rows 0-2: one class far ahead, so the others' probabilities fall below 1e-7; right and wrong labels.
      const z = Float32Array.from([30, 0, 0, 0, 30, 1, -5, 2, 25, ...logits(6, 3, 2).subarray(9)]);
      check('softmax', loss, z, Float32Array.of(0, 2, 2, 1, 0, 2), 3);
    });
  }

  for (const loss of ['meanSquaredError', 'meanAbsoluteError', 'huber'] as const) {
    for (const activation of ['linear', 'relu', 'sigmoid', 'tanh'] as const) {
      it(`${loss} with a ${activation} head, C = 1 (a regression target) and C = 3 (the one-hot row)`, () => {
        const random = mulberry32(activation.length);
        // Targets spread so that huber sees errors on both sides of its delta.
        const targets = Float32Array.from({ length: B }, () => (random() * 2 - 1) * 3 * HUBER_DELTA);
        check(activation, loss, logits(7 + activation.length, 1, 3), targets, 1);
        check(activation, loss, logits(8 + activation.length, 3, 3), classes(9, 3), 3);
      });
    }
  }
});
