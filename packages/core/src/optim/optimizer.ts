import type { OptimizerSpec } from '../config/optimizer.js';
import { OptimizerStateError } from '../errors.js';

/**
 * An optimizer's whole state, for checkpoints: its name, the completed steps, and one
 * Float32Array per slot (Adam: `m` and `v`), each as long as the parameter vector.
 */
export interface OptimizerState {
  name: string;
  step: number;
  slots: Record<string, Float32Array>;
}

/** One weight tensor's place in the flat parameter vector (a model's ParamLayout entries fit). */
export interface WeightRange {
  /** The weight's name in the model, e.g. "dense_1/bias": what `excludeFromWeightDecay` matches. */
  name: string;
  offset: number;
  size: number;
}

/**
 * The parameter server's optimizer over one flat Float32Array of parameters. A step is either
 * one `apply`, or several `applyRange` calls over disjoint ranges followed by one `finishStep`
 * (lazy embedding updates skip the rows a step did not touch). Build one with `createOptimizer`.
 * Gradient clipping is not the optimizer's: the parameter server clips the mean gradient first
 * (`createGradientClipping`), since a global norm needs the whole gradient before any range.
 */
export interface Optimizer {
  /** The config's name for it: 'adam', 'adamw', 'sgd'. */
  readonly name: string;
  /** How many parameters it updates. */
  readonly size: number;
  /** Completed steps. */
  readonly step: number;
  /** The learning rate the next step applies: the schedule's value at `step`, before float32 rounding. */
  learningRate(): number;
  /** Updates `params` in place with the averaged gradient `grads`: one whole step. */
  apply(params: Float32Array, grads: Float32Array): void;
  /** Updates only parameters [from, to) for the current step. */
  applyRange(params: Float32Array, grads: Float32Array, from: number, to: number): void;
  /** Ends a step applied by ranges. */
  finishStep(): void;
  /** A copy of the state. */
  state(): OptimizerState;
  /** Continues from a state taken with `state()`; throws OptimizerStateError naming what differs. */
  restore(state: OptimizerState): void;
  /** The spec it was built from (a copy): `createOptimizer(o.getConfig(), o.size)` builds its twin. */
  getConfig(): OptimizerSpec;
}

/**
 * Checks a state against the optimizer `name` of `size` parameters with slots `slots`, naming
 * the first difference. Returns the slots, safe to read.
 */
export function checkState<S extends string>(state: OptimizerState, name: string, size: number, slots: readonly S[]): Record<S, Float32Array> {
  if (state.name !== name) throw new OptimizerStateError(`optimizer state is for "${state.name}", this optimizer is "${name}"`);
  if (!Number.isInteger(state.step) || state.step < 0) throw new OptimizerStateError(`${name} state: step ${state.step} is not a count of steps`);
  const names = Object.keys(state.slots);
  const extra = names.filter((s) => !(slots as readonly string[]).includes(s));
  if (extra.length > 0) throw new OptimizerStateError(`${name} state: unknown slot${extra.length > 1 ? 's' : ''} ${extra.join(', ')}; expected ${slots.join(', ')}`);
  for (const slot of slots) {
    const values = state.slots[slot];
    if (!values) throw new OptimizerStateError(`${name} state: slot ${slot} is missing`);
    if (values.length !== size) throw new OptimizerStateError(`${name} state: slot ${slot} has ${values.length} values, the optimizer updates ${size}`);
  }
  return state.slots as Record<S, Float32Array>;
}
