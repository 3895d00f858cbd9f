import type { CosineDecay, ExponentialDecay, LearningRate, PiecewiseConstantDecay } from '../config/learningRate.js';

/**
 * Learning-rate schedules as pure functions of the optimizer's step count, so that an optimizer
 * needs no state beyond that count and a checkpoint restores the schedule exactly.
 *
 * `step` is the number of completed updates: Keras evaluates a schedule at `optimizer.iterations`
 * before incrementing it, so the first update uses step 0. The formulas are Keras 3's
 * (`keras/src/optimizers/schedules/learning_rate_schedule.py`), in float64; optimizers round the
 * result to float32 where their arithmetic does, as Keras casts the rate to the variable's dtype.
 */
export function learningRateAt(rate: LearningRate, step: number): number {
  if (typeof rate === 'number') return rate;
  switch (rate.schedule) {
    case 'exponentialDecay':
      return exponentialDecay(rate, step);
    case 'piecewiseConstantDecay':
      return piecewiseConstantDecay(rate, step);
    case 'cosineDecay':
      return cosineDecay(rate, step);
  }
}

/** `initialLearningRate · decayRate^(step / decaySteps)`, the exponent floored with `staircase`. */
export function exponentialDecay(schedule: ExponentialDecay, step: number): number {
  const fraction = step / schedule.decaySteps;
  return schedule.initialLearningRate * schedule.decayRate ** (schedule.staircase ? Math.floor(fraction) : fraction);
}

/** `values[i]` for the first boundary with `step <= boundaries[i]`, and the last value past them all. */
export function piecewiseConstantDecay(schedule: PiecewiseConstantDecay, step: number): number {
  const { boundaries, values } = schedule;
  for (let i = 0; i < boundaries.length; i++) if (step <= boundaries[i]!) return values[i]!;
  return values[boundaries.length]!;
}

/**
 * Without `warmupTarget`: a cosine from `initialLearningRate` to `alpha` times it over
 * `decaySteps`, then flat. With it: a line from `initialLearningRate` to `warmupTarget` over
 * `warmupSteps` (step 0 gives `initialLearningRate`), then the cosine from `warmupTarget`.
 */
export function cosineDecay(schedule: CosineDecay, step: number): number {
  const { initialLearningRate, decaySteps, alpha, warmupTarget, warmupSteps } = schedule;
  if (warmupTarget === undefined) return cosine(Math.min(step, decaySteps), decaySteps, initialLearningRate, alpha);
  const capped = Math.min(step, decaySteps + warmupSteps);
  if (capped < warmupSteps) return (warmupTarget - initialLearningRate) * (capped / warmupSteps) + initialLearningRate;
  return cosine(capped - warmupSteps, decaySteps, warmupTarget, alpha);
}

function cosine(step: number, decaySteps: number, from: number, alpha: number): number {
  const decayed = 0.5 * (1 + Math.cos(Math.PI * (step / decaySteps)));
  return from * ((1 - alpha) * decayed + alpha);
}
