import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ActivationName, LossName } from '../config/names.js';
import { mulberry32 } from '../rng.js';
import { EvaluationTally } from './evaluation.js';
import { lossSum } from './losses.js';
import { headLoss } from './objective.js';

// Sample weights in the head: each sample's loss and its row of d(loss)/dz times its weight.

const B = 5;
const W = Float32Array.of(0.5, 0, 2, 1, 3.25);

function inputs(seed: number, C: number): { z: Float32Array; y: Float32Array } {
  const random = mulberry32(seed);
  const z = Float32Array.from({ length: B * C }, () => random() * 4 - 2);
  const y = Float32Array.from({ length: B }, () => (C === 1 ? Math.round(random()) : Math.floor(random() * C)));
  return { z, y };
}

/** Σ w_b loss_b and w_b dz_b, each sample on its own through the unweighted headLoss: the definition, computed directly. */
function direct(activation: ActivationName, loss: LossName, z: Float32Array, y: Float32Array, C: number): { sum: number; dz: Float64Array } {
  let sum = 0;
  const dz = new Float64Array(B * C);
  for (let b = 0; b < B; b++) {
    const row = new Float64Array(C);
    sum += W[b]! * headLoss({ activation, loss, units: C }, z.subarray(b * C, (b + 1) * C), y.subarray(b, b + 1), 1, new Float64Array(C), row);
    for (let c = 0; c < C; c++) dz[b * C + c] = W[b]! * row[c]!;
  }
  return { sum, dz };
}

/** tfjs: d/dz of sum(perSampleLoss × w), the loss tfjs-layers' computeWeightedLoss builds. */
function tfjsWeighted(activation: ActivationName, loss: LossName, z: Float32Array, y: Float32Array, C: number): { sum: number; dz: Float32Array } {
  return tf.tidy(() => {
    const objective = (logits: tf.Tensor) => lossSum(loss, tf.tensor2d(y, [B, 1]), tf.layers.activation({ activation }).apply(logits) as tf.Tensor, tf.tensor1d(W));
    const logits = tf.tensor2d(z, [B, C]);
    return { sum: objective(logits).dataSync()[0]!, dz: tf.grad(objective)(logits).dataSync() as Float32Array };
  });
}

const cases: [ActivationName, LossName, number][] = [
  ['sigmoid', 'binaryCrossentropy', 1],
  ['softmax', 'sparseCategoricalCrossentropy', 3],
  ['softmax', 'categoricalCrossentropy', 4],
  ['softmax', 'sparseCategoricalCrossentropy', 2],
  ['linear', 'meanSquaredError', 1],
  ['relu', 'meanAbsoluteError', 2],
  ['linear', 'huber', 1],
];

describe('headLoss with sample weights', () => {
  beforeAll(async () => {
    tf.enableProdMode();
    await tf.setBackend('cpu');
  });

  it.each(cases)('%s head, %s, C = %i: the weighted sum and gradient equal the direct computation and tfjs', (activation, loss, C) => {
    const { z, y } = inputs(activation.length + C, C);
    const dz = new Float64Array(B * C);
    const sum = headLoss({ activation, loss, units: C }, z, y, B, new Float64Array(B * C), dz, W);
    const expected = direct(activation, loss, z, y, C);
    expect(Math.abs(sum - expected.sum)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(expected.sum)));
    for (let k = 0; k < B * C; k++) expect(Math.abs(dz[k]! - expected.dz[k]!), `dz[${k}]`).toBeLessThanOrEqual(1e-12);
    // Sample 1 weighs 0: its row of the gradient is zero.
    for (let c = 0; c < C; c++) expect(dz[C + c] === 0).toBe(true);
    const reference = tfjsWeighted(activation, loss, z, y, C);
    expect(Math.abs(sum - reference.sum) / Math.max(1, Math.abs(reference.sum))).toBeLessThanOrEqual(1e-5);
    for (let k = 0; k < B * C; k++) expect(Math.abs(dz[k]! - reference.dz[k]!), `tfjs dz[${k}]`).toBeLessThanOrEqual(1e-5);
  });

  it('weights of 1 leave every bit as without weights', () => {
    for (const [activation, loss, C] of cases) {
      const { z, y } = inputs(9, C);
      const [plain, ones] = [new Float64Array(B * C), new Float64Array(B * C)];
      const a = headLoss({ activation, loss, units: C }, z, y, B, new Float64Array(B * C), plain);
      const b = headLoss({ activation, loss, units: C }, z, y, B, new Float64Array(B * C), ones, new Float32Array(B).fill(1));
      expect(b).toBe(a);
      expect(Buffer.from(ones.buffer).equals(Buffer.from(plain.buffer))).toBe(true);
    }
  });
});

describe('EvaluationTally with sample weights', () => {
  it('weighs the loss (Σ w·loss over the sample count, as Keras evaluate) and leaves the metrics alone', () => {
    const outputs = Float32Array.of(0.9, 0.2, 0.6, 0.4, 0.7);
    const y = Float32Array.of(1, 0, 0, 1, 1);
    const spec = { loss: 'binaryCrossentropy', metrics: ['accuracy'], outputs: 1 } as const;
    const plain = new EvaluationTally(spec);
    plain.add(outputs, y, B);
    const weighted = new EvaluationTally(spec);
    // Two slices, as Inference adds them.
    weighted.add(outputs.subarray(0, 2), y.subarray(0, 2), 2, W.subarray(0, 2));
    weighted.add(outputs.subarray(2), y.subarray(2), 3, W.subarray(2));
    let expected = 0;
    for (let b = 0; b < B; b++) expected -= W[b]! * Math.log(y[b] === 1 ? outputs[b]! : 1 - outputs[b]!);
    const result = weighted.result();
    expect(result.loss).toBeCloseTo(expected / B, 6);
    expect(result.loss).not.toBeCloseTo(plain.result().loss, 3);
    expect(result.metrics).toEqual(plain.result().metrics);
    expect(() => weighted.add(outputs, y, B, W.subarray(0, 4))).toThrow('5 outputs, 5 targets and 4 weights for 5 samples of 1 output(s)');
  });
});
