import { describe, expect, it } from 'vitest';
import type { CosineDecay, ExponentialDecay, LearningRate, PiecewiseConstantDecay } from '../config/learningRate.js';
import { learningRateAt } from './schedules.js';

const f32 = Math.fround;

/*
 * Keras 3's schedules (keras/src/optimizers/schedules/learning_rate_schedule.py), transcribed
 * line by line. Keras computes them on float32 tensors, so every operation rounds to float32
 * here; the step is an integer tensor cast to float32.
 */

function kerasExponentialDecay(s: ExponentialDecay, step: number): number {
  const initialLearningRate = f32(s.initialLearningRate);
  const decaySteps = f32(s.decaySteps);
  const decayRate = f32(s.decayRate);
  const globalStepRecomp = f32(step);
  let p = f32(globalStepRecomp / decaySteps);
  if (s.staircase) p = Math.floor(p);
  return f32(initialLearningRate * f32(decayRate ** p));
}

function kerasPiecewiseConstantDecay(s: PiecewiseConstantDecay, step: number): number {
  const boundaries = s.boundaries;
  const values = s.values.map(f32);
  let resultValue = 0;
  resultValue += Number(step <= boundaries[0]!) * values[0]!;
  resultValue += Number(step > boundaries.at(-1)!) * values.at(-1)!;
  for (let i = 0; i + 1 < boundaries.length; i++) {
    const [low, high, value] = [boundaries[i]!, boundaries[i + 1]!, values[i + 1]!];
    resultValue += Number(step > low && step <= high) * value;
  }
  return f32(resultValue);
}

function kerasCosineDecay(s: CosineDecay, step: number): number {
  const decayFunction = (step: number, decaySteps: number, decayFromLr: number): number => {
    const completedFraction = f32(step / decaySteps);
    const pi = f32(Math.PI);
    const cosineDecayed = f32(0.5 * f32(1.0 + f32(Math.cos(f32(pi * completedFraction)))));
    const decayed = f32(f32(f32(1 - s.alpha) * cosineDecayed) + f32(s.alpha));
    return f32(decayFromLr * decayed);
  };
  const warmupFunction = (step: number, warmupSteps: number, warmupTarget: number, initialLearningRate: number): number => {
    const completedFraction = f32(step / warmupSteps);
    const totalStepDelta = f32(warmupTarget - initialLearningRate);
    return f32(f32(totalStepDelta * completedFraction) + initialLearningRate);
  };
  const initialLearningRate = f32(s.initialLearningRate);
  const decaySteps = f32(s.decaySteps);
  let globalStepRecomp = f32(step);
  if (s.warmupTarget === undefined) {
    globalStepRecomp = Math.min(globalStepRecomp, decaySteps);
    return decayFunction(globalStepRecomp, decaySteps, initialLearningRate);
  }
  const warmupTarget = f32(s.warmupTarget);
  const warmupSteps = f32(s.warmupSteps);
  globalStepRecomp = Math.min(globalStepRecomp, f32(decaySteps + warmupSteps));
  return globalStepRecomp < warmupSteps
    ? warmupFunction(globalStepRecomp, warmupSteps, warmupTarget, initialLearningRate)
    : decayFunction(f32(globalStepRecomp - warmupSteps), decaySteps, warmupTarget);
}

/** The largest |ours - Keras's| over steps 0 .. steps-1. */
function worstDifference(rate: LearningRate, keras: (step: number) => number, steps: number): number {
  let worst = 0;
  for (let step = 0; step < steps; step++) worst = Math.max(worst, Math.abs(learningRateAt(rate, step) - keras(step)));
  return worst;
}

describe('learning-rate schedules', () => {
  it('a number is the rate at every step', () => {
    expect([0, 1, 1e6].map((step) => learningRateAt(0.003, step))).toEqual([0.003, 0.003, 0.003]);
  });

  describe('exponentialDecay', () => {
    const cases: ExponentialDecay[] = [
      { schedule: 'exponentialDecay', initialLearningRate: 0.05, decaySteps: 10, decayRate: 0.96, staircase: false },
      { schedule: 'exponentialDecay', initialLearningRate: 0.1, decaySteps: 3, decayRate: 0.96, staircase: true },
      { schedule: 'exponentialDecay', initialLearningRate: 1e-3, decaySteps: 1000, decayRate: 0.5, staircase: false },
      { schedule: 'exponentialDecay', initialLearningRate: 0.3, decaySteps: 7.5, decayRate: 0.9, staircase: true },
    ];
    it.each(cases)('equals the Keras formula over 5000 steps: %o', (schedule) => {
      expect(worstDifference(schedule, (step) => kerasExponentialDecay(schedule, step), 5000)).toBeLessThanOrEqual(1e-6);
    });

    it('gives the values of Keras\'s own tests', () => {
      expect(learningRateAt(cases[0]!, 5)).toBeCloseTo(0.05 * 0.96 ** 0.5, 12);
      expect(learningRateAt(cases[1]!, 1)).toBe(0.1);
      expect(learningRateAt(cases[1]!, 2)).toBe(0.1);
      expect(learningRateAt(cases[1]!, 100)).toBeCloseTo(0.1 * 0.96 ** 33, 12);
    });
  });

  describe('piecewiseConstantDecay', () => {
    const cases: PiecewiseConstantDecay[] = [
      { schedule: 'piecewiseConstantDecay', boundaries: [100, 110, 120], values: [1.0, 0.1, 0.01, 0.001] },
      { schedule: 'piecewiseConstantDecay', boundaries: [1, 2, 3], values: [0.4, 0.5, 0.6, 0.7] },
      { schedule: 'piecewiseConstantDecay', boundaries: [500], values: [0.01, 0.002] },
    ];
    it.each(cases)('equals the Keras formula over 1000 steps: %o', (schedule) => {
      expect(worstDifference(schedule, (step) => kerasPiecewiseConstantDecay(schedule, step), 1000)).toBeLessThanOrEqual(1e-6);
    });

    it('gives the values of Keras\'s own tests: a boundary belongs to the range below it', () => {
      expect([0, 100, 105, 110, 120, 999].map((step) => learningRateAt(cases[0]!, step))).toEqual([1.0, 1.0, 0.1, 0.1, 0.01, 0.001]);
      expect([0, 1, 2, 3, 4].map((step) => learningRateAt(cases[1]!, step))).toEqual([0.4, 0.4, 0.5, 0.6, 0.7]);
    });
  });

  describe('cosineDecay', () => {
    const cases: CosineDecay[] = [
      { schedule: 'cosineDecay', initialLearningRate: 1.0, decaySteps: 1000, alpha: 0, warmupSteps: 0 },
      { schedule: 'cosineDecay', initialLearningRate: 1.0, decaySteps: 1000, alpha: 0.1, warmupSteps: 0 },
      { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 1000, alpha: 0, warmupTarget: 0.001, warmupSteps: 100 },
      { schedule: 'cosineDecay', initialLearningRate: 1e-4, decaySteps: 37, alpha: 0.05, warmupTarget: 3e-3, warmupSteps: 13 },
      { schedule: 'cosineDecay', initialLearningRate: 0.01, decaySteps: 50, alpha: 0, warmupTarget: 0.02, warmupSteps: 0 },
    ];
    it.each(cases)('equals the Keras formula over 2000 steps: %o', (schedule) => {
      expect(worstDifference(schedule, (step) => kerasCosineDecay(schedule, step), 2000)).toBeLessThanOrEqual(1e-6);
    });

    it('gives the values of Keras\'s own tests', () => {
      const cosine = (step: number, alpha: number) => (1 - alpha) * 0.5 * (1 + Math.cos((Math.PI * Math.min(step, 1000)) / 1000)) + alpha;
      for (let step = 0; step < 1500; step += 250) {
        expect(learningRateAt(cases[0]!, step)).toBeCloseTo(cosine(step, 0), 12);
        expect(learningRateAt(cases[1]!, step)).toBeCloseTo(cosine(step, 0.1), 12);
      }
      const warmup: CosineDecay = { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 10, alpha: 0, warmupTarget: 10, warmupSteps: 1500 };
      for (let step = 0; step < 1500; step += 250) expect(learningRateAt(warmup, step)).toBeCloseTo((step / 1500) * 10, 12);
    });

    it('warms up from initialLearningRate at step 0, reaches the target at warmupSteps, then decays to alpha times it', () => {
      const schedule = cases[3]!;
      expect(learningRateAt(schedule, 0)).toBe(1e-4);
      expect(learningRateAt(schedule, 13)).toBeCloseTo(3e-3, 15);
      expect(learningRateAt(schedule, 12)).toBeLessThan(3e-3);
      expect(learningRateAt(schedule, 14)).toBeLessThan(3e-3);
      expect(learningRateAt(schedule, 13 + 37)).toBeCloseTo(0.05 * 3e-3, 15);
      expect(learningRateAt(schedule, 10_000)).toBe(learningRateAt(schedule, 13 + 37));
    });
  });
});
