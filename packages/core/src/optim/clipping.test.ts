import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../rng.js';
import { createGradientClipping, GradientClipping } from './clipping.js';
import type { WeightRange } from './optimizer.js';

const f32 = Math.fround;

/*
 * Keras 3's clipping (keras/src/optimizers/base_optimizer.py: `_clip_by_norm`,
 * `clip_by_global_norm`, `global_norm`, and `ops.clip` for clipvalue), transcribed line by line
 * over a list of float32 tensors, rounding to float32 where Keras's tensors do.
 */

function sumSquares(values: Float32Array): number {
  let sum = 0;
  for (const v of values) sum = f32(sum + f32(v * v));
  return sum;
}

function kerasClipByNorm(values: Float32Array, clipnorm: number): Float32Array {
  const l2sum = sumSquares(values);
  const pred = l2sum > 0;
  const l2sumSafe = pred ? l2sum : 1;
  const l2norm = pred ? f32(Math.sqrt(l2sumSafe)) : l2sum;
  const intermediate = values.map((v) => f32(v * f32(clipnorm)));
  return intermediate.map((v) => f32(v / Math.max(l2norm, f32(clipnorm))));
}

function kerasClipByGlobalNorm(valueList: Float32Array[], clipNorm: number): Float32Array[] {
  const useNorm = f32(Math.sqrt(valueList.map(sumSquares).reduce((a, b) => f32(a + b), 0)));
  const scaleForFinite = f32(clipNorm * Math.min(f32(1.0 / useNorm), f32(1.0 / clipNorm)));
  const scale = scaleForFinite + (useNorm - useNorm);
  return valueList.map((v) => v.map((x) => f32(x * scale)));
}

function kerasClipValue(values: Float32Array, clipvalue: number): Float32Array {
  return values.map((g) => Math.min(Math.max(g, -clipvalue), clipvalue));
}

/** Three weight tensors of 5, 0 and 7 values (an empty one too), laid end to end. */
const weights: WeightRange[] = [
  { name: 'dense_1/kernel', offset: 0, size: 5 },
  { name: 'dense_1/bias', offset: 5, size: 0 },
  { name: 'dense_2/kernel', offset: 5, size: 7 },
];

function tensorsOf(flat: Float32Array): Float32Array[] {
  return weights.map((w) => flat.slice(w.offset, w.offset + w.size));
}

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const concat = (parts: Float32Array[]): Float32Array => Float32Array.from(parts.flatMap((p) => [...p]));

/** 300 gradients whose scales range from far inside to far beyond a limit of 1. */
function gradients(seed: number): Float32Array[] {
  const random = mulberry32(seed);
  return Array.from({ length: 300 }, (_, k) => {
    const scale = 10 ** ((k % 7) - 3);
    return Float32Array.from({ length: 12 }, () => (random() * 2 - 1) * scale);
  });
}

describe('gradient clipping', () => {
  it.each([0.5, 1, 3])('clipnorm %d clips each weight tensor as Keras\'s _clip_by_norm does', (limit) => {
    const clipping = new GradientClipping('clipnorm', limit, weights);
    let clipped = 0;
    for (const g of gradients(1)) {
      const expected = concat(tensorsOf(g).map((t) => kerasClipByNorm(t, limit)));
      const actual = g.slice();
      clipping.clip(actual);
      expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, limit));
      if (maxAbsDiff(actual, g) > 0) clipped++;
    }
    expect(clipped).toBeGreaterThan(50);
  });

  it.each([0.5, 1, 3])('globalClipnorm %d scales all tensors together as Keras\'s clip_by_global_norm does', (limit) => {
    const clipping = new GradientClipping('globalClipnorm', limit, weights);
    let clipped = 0;
    for (const g of gradients(2)) {
      const expected = concat(kerasClipByGlobalNorm(tensorsOf(g), limit));
      const actual = g.slice();
      clipping.clip(actual);
      expect(maxAbsDiff(actual, expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, limit));
      if (maxAbsDiff(actual, g) > 0) clipped++;
    }
    expect(clipped).toBeGreaterThan(50);
  });

  it.each([0.01, 0.5, 3])('clipvalue %d clips each value as Keras\'s ops.clip does, to the bit', (limit) => {
    const clipping = new GradientClipping('clipvalue', limit, weights);
    for (const g of gradients(3)) {
      const actual = g.slice();
      clipping.clip(actual);
      expect(Buffer.from(actual.buffer).equals(Buffer.from(kerasClipValue(g, f32(limit)).buffer))).toBe(true);
    }
  });

  it('clipnorm and globalClipnorm differ: one scales tensors apart, the other together', () => {
    const g = Float32Array.of(3, 4, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0.4);
    const perTensor = g.slice();
    const global = g.slice();
    new GradientClipping('clipnorm', 1, weights).clip(perTensor);
    new GradientClipping('globalClipnorm', 1, weights).clip(global);
    // The first tensor has norm 5 and is scaled to 1; the second has norm 0.5 and stays.
    expect([...perTensor]).toEqual([0.6, 0.8, 0, 0, 0, 0.3, 0, 0, 0, 0, 0, 0.4].map(f32));
    const norm = Math.sqrt(25.25);
    expect(maxAbsDiff(global, g.map((x) => x / norm))).toBeLessThanOrEqual(1e-7);
  });

  it('leaves a gradient within the limit untouched, to the bit', () => {
    for (const mode of ['clipnorm', 'globalClipnorm', 'clipvalue'] as const) {
      const g = Float32Array.of(0.1, -0.2, 0.3, 0, 0, 0.01, 0, 0, 0, 0, 0, -0.05);
      const copy = g.slice();
      new GradientClipping(mode, 1, weights).clip(copy);
      expect(Buffer.from(copy.buffer).equals(Buffer.from(g.buffer))).toBe(true);
    }
  });

  it('is built from an optimizer spec, or not at all', () => {
    expect(createGradientClipping({}, weights)).toBeUndefined();
    expect(createGradientClipping({ clipnorm: 2 }, weights)).toMatchObject({ mode: 'clipnorm', limit: 2 });
    expect(createGradientClipping({ globalClipnorm: 1 }, weights)).toMatchObject({ mode: 'globalClipnorm', limit: 1 });
    expect(createGradientClipping({ clipvalue: 0.5 }, weights)).toMatchObject({ mode: 'clipvalue', limit: 0.5 });
    expect(() => new GradientClipping('clipnorm', 0, weights)).toThrow(/clipnorm must be > 0/);
  });
});
