import { describe, expect, it } from 'vitest';
import type { AdamWSpec, LearningRate } from '../config/optimizer.js';
import { mulberry32 } from '../rng.js';
import { Adam } from './adam.js';
import { AdamW } from './adamw.js';
import type { WeightRange } from './optimizer.js';
import { learningRateAt } from './schedules.js';

const warmupCosine: LearningRate = { schedule: 'cosineDecay', initialLearningRate: 1e-4, decaySteps: 150, alpha: 0.1, warmupTarget: 3e-3, warmupSteps: 40 };

const spec = (overrides: Partial<AdamWSpec> = {}): AdamWSpec => ({
  type: 'adamw',
  learningRate: warmupCosine,
  weightDecay: 0.05,
  excludeFromWeightDecay: ['bias'],
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
  ...overrides,
});

/** A kernel of 40 values and a bias of 8, as a model's layout names them. */
const weights: WeightRange[] = [
  { name: 'dense_1/kernel', offset: 0, size: 40 },
  { name: 'dense_1/bias', offset: 40, size: 8 },
];
const n = 48;

function run(steps: number, seed: number): { initial: Float32Array; grads: Float32Array[] } {
  const random = mulberry32(seed);
  const initial = Float32Array.from({ length: n }, () => random() - 0.5);
  const grads = Array.from({ length: steps }, () => Float32Array.from({ length: n }, () => (random() * 2 - 1) * 0.8));
  return { initial, grads };
}

const f32 = Math.fround;

/**
 * Keras 3's AdamW (keras/src/optimizers/adamw.py, adam.py, base_optimizer.py), transcribed line
 * by line with every tensor operation rounded to float32 as Keras's float32 variables are:
 * `_apply_weight_decay` (`variable - variable * wd * lr`, skipped for excluded names), then
 * Adam's `update_step`, with the rate of the schedule at `iterations` (0 for the first update).
 */
function kerasAdamW(s: AdamWSpec, initial: Float32Array, grads: Float32Array[]): Float32Array {
  const variable = initial.slice();
  const m = new Float32Array(n);
  const v = new Float32Array(n);
  const decayed = (i: number) => weights.some((w) => i >= w.offset && i < w.offset + w.size && !s.excludeFromWeightDecay.some((name) => w.name.includes(name)));
  for (const [iterations, gradient] of grads.entries()) {
    const lr = f32(learningRateAt(s.learningRate, iterations));
    const wd = f32(s.weightDecay);
    for (let i = 0; i < n; i++) if (decayed(i)) variable[i] = f32(variable[i]! - f32(f32(variable[i]! * wd) * lr));
    const localStep = f32(iterations + 1);
    const beta1Power = f32(f32(s.beta1) ** localStep);
    const beta2Power = f32(f32(s.beta2) ** localStep);
    const alpha = f32(f32(lr * f32(Math.sqrt(f32(1 - beta2Power)))) / f32(1 - beta1Power));
    for (let i = 0; i < n; i++) {
      const g = gradient[i]!;
      m[i] = f32(m[i]! + f32(f32(g - m[i]!) * f32(1 - s.beta1)));
      v[i] = f32(v[i]! + f32(f32(f32(g * g) - v[i]!) * f32(1 - s.beta2)));
      variable[i] = f32(variable[i]! - f32(f32(m[i]! * alpha) / f32(f32(Math.sqrt(v[i]!)) + f32(s.epsilon))));
    }
  }
  return variable;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

const bytes = (x: Float32Array): Buffer => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('AdamW', () => {
  it.each([
    ['a warmup-cosine schedule', spec()],
    ['a constant rate and no exclusions', spec({ learningRate: 2e-3, excludeFromWeightDecay: [] })],
    ['a strong decay', spec({ weightDecay: 0.5, learningRate: 0.01 })],
  ])('equals Keras\'s AdamW over 300 steps within 1e-6 (%s)', (_, s) => {
    const { initial, grads } = run(300, 5);
    const params = initial.slice();
    const adamw = new AdamW(n, s, weights);
    for (const g of grads) adamw.apply(params, g);
    expect(maxAbsDiff(params, kerasAdamW(s, initial, grads))).toBeLessThanOrEqual(1e-6);
    expect(adamw.step).toBe(300);
  });

  it('decays before the Adam step, with the scheduled rate of that step: a zero gradient moves a weight by w·wd·lr exactly', () => {
    const s = spec({ learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [0], values: [0.5, 0.25] }, excludeFromWeightDecay: [] });
    const adamw = new AdamW(2, s);
    const params = Float32Array.of(1, -2);
    const decay = (w: number, lr: number) => f32(w - f32(f32(w * f32(0.05)) * lr));
    adamw.apply(params, new Float32Array(2));
    // Step 0 uses values[0]; Adam's step on a zero gradient is zero.
    expect([...params]).toEqual([decay(1, 0.5), decay(-2, 0.5)]);
    adamw.apply(params, new Float32Array(2));
    expect([...params]).toEqual([decay(decay(1, 0.5), 0.25), decay(decay(-2, 0.5), 0.25)]);
    expect(params[0]).toBeCloseTo(0.975 * (1 - 0.0125), 6);
  });

  it('with weightDecay 0 is Adam to the bit; excluded weights move exactly as Adam moves them', () => {
    const { initial, grads } = run(100, 8);
    const adam = new Adam(n, { learningRate: warmupCosine, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false });
    const expected = initial.slice();
    for (const g of grads) adam.apply(expected, g);
    const undecayed = initial.slice();
    const zero = new AdamW(n, spec({ weightDecay: 0 }), weights);
    for (const g of grads) zero.apply(undecayed, g);
    expect(bytes(undecayed).equals(bytes(expected))).toBe(true);

    const decayed = initial.slice();
    const adamw = new AdamW(n, spec(), weights);
    for (const g of grads) adamw.apply(decayed, g);
    expect(bytes(decayed.subarray(40)).equals(bytes(expected.subarray(40)))).toBe(true);
    // The kernel decays towards zero.
    let shrunk = 0;
    for (let i = 0; i < 40; i++) if (Math.abs(decayed[i]!) < Math.abs(expected[i]!)) shrunk++;
    expect(shrunk).toBeGreaterThan(35);
  });

  it('continues bitwise from state()/restore() in the middle of the warmup and of the decay', () => {
    const { initial, grads } = run(120, 9);
    const whole = new AdamW(n, spec(), weights);
    const expected = initial.slice();
    for (const g of grads) whole.apply(expected, g);
    for (const stop of [17, 90]) {
      const first = new AdamW(n, spec(), weights);
      const params = initial.slice();
      for (const g of grads.slice(0, stop)) first.apply(params, g);
      const state = first.state();
      expect(state).toMatchObject({ name: 'adamw', step: stop });
      expect(Object.keys(state.slots)).toEqual(['m', 'v']);
      const second = new AdamW(n, spec(), weights);
      second.restore(state);
      expect(second.learningRate()).toBe(first.learningRate());
      for (const g of grads.slice(stop)) second.apply(params, g);
      expect(bytes(params).equals(bytes(expected))).toBe(true);
    }
  });

  it('applied by ranges equals whole steps, and refuses an Adam state', () => {
    const { initial, grads } = run(10, 10);
    const whole = new AdamW(n, spec(), weights);
    const ranged = new AdamW(n, spec(), weights);
    const a = initial.slice();
    const b = initial.slice();
    for (const g of grads) {
      whole.apply(a, g);
      ranged.applyRange(b, g, 30, n);
      ranged.applyRange(b, g, 0, 30);
      ranged.finishStep();
    }
    expect(bytes(b).equals(bytes(a))).toBe(true);
    const adam = new Adam(n, { learningRate: 1e-3, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false });
    expect(() => whole.restore(adam.state())).toThrow('optimizer state is for "adam", this optimizer is "adamw"');
  });
});
