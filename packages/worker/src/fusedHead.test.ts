import { describe, expect, it } from 'vitest';
import { headForward, type FusedHeadSpec, type FusedLoss, type FusedMetric } from './fusedHead.js';

// Three samples of H = 2 hidden units into kernel [0.5, -1], bias 0.25: pre-activations 0.25, -1.75, 20.25.
const kernel = Float32Array.from([0.5, -1]);
const bias = 0.25;
const last = Float32Array.from([1, 0.5, -2, 1, 40, 0]);
const z = [0.25, -1.75, 20.25];
const logistic = (v: number) => 1 / (1 + Math.exp(-v));

function run(spec: FusedHeadSpec, y: number[]) {
  return headForward(spec, kernel, bias, last, Float32Array.from(y), 3, 2);
}

describe('fused head', () => {
  it('binary cross-entropy: -log of the probability of the target, p clipped to float32 [1e-7, 1 - 1e-7], and dz = p - y inside the clip', () => {
    const y = [0, 0, 1];
    const result = run({ activation: 'sigmoid', loss: 'binaryCrossentropy', metrics: ['accuracy', 'mae'] }, y);
    const p = z.map(logistic);
    // The third sample saturates: its probability is clipped, and the clip passes no gradient.
    const clipped = p.map((v) => Math.min(v, Math.fround(1 - 1e-7)));
    const loss = clipped.map((v, b) => -(y[b]! * Math.log(v) + (1 - y[b]!) * Math.log(1 - v)));
    expect(result.lossSum).toBeCloseTo(loss[0]! + loss[1]! + loss[2]!, 12);
    expect(Array.from(result.dLogits)).toEqual([Math.fround(p[0]! - 0), Math.fround(p[1]! - 0), 0]);
    // p = 0.56, 0.15, ~1: the first sample is misclassified.
    expect(result.metricSums[0]).toBe(2);
    expect(result.metricSums[1]).toBeCloseTo(p[0]! + p[1]! + (1 - p[2]!), 12);
  });

  it('mean squared error with a linear head: (z - y)^2 and dz = 2 (z - y)', () => {
    const y = [1, -1, 20];
    const result = run({ activation: 'linear', loss: 'meanSquaredError', metrics: ['mae', 'accuracy'] }, y);
    expect(result.lossSum).toBeCloseTo(0.75 ** 2 + 0.75 ** 2 + 0.25 ** 2, 12);
    expect(Array.from(result.dLogits)).toEqual([-1.5, -1.5, 0.5]);
    expect(result.metricSums[0]).toBeCloseTo(0.75 + 0.75 + 0.25, 12);
    // Accuracy thresholds z at 0.5: predictions 0, 0, 1 against targets 1, -1, 20, none equal.
    expect(result.metricSums[1]).toBe(0);
  });

  it('mean squared error with a sigmoid head: dz = 2 (p - y) p (1 - p)', () => {
    const y = [1, 0, 1];
    const result = run({ activation: 'sigmoid', loss: 'meanSquaredError', metrics: ['accuracy'] }, y);
    const p = z.map(logistic);
    expect(result.lossSum).toBeCloseTo(p.reduce((sum, v, b) => sum + (v - y[b]!) ** 2, 0), 12);
    p.forEach((v, b) => {
      expect(result.dLogits[b]).toBe(Math.fround(2 * (v - y[b]!) * v * (1 - v)));
    });
    expect(result.metricSums).toEqual([3]);
  });

  it('refuses a loss or metric it does not implement rather than computing another', () => {
    const hinge = 'hinge' as unknown as FusedLoss;
    expect(() => run({ activation: 'linear', loss: hinge, metrics: [] }, [0, 0, 0])).toThrow('the fused head has no loss hinge');
    const auc = 'auc' as unknown as FusedMetric;
    expect(() => run({ activation: 'linear', loss: 'meanSquaredError', metrics: [auc] }, [0, 0, 0])).toThrow('the fused head has no metric auc');
  });
});
