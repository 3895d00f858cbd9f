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
 * one `apply`, or several `applyRange`/`applyRanges` calls over disjoint ranges followed by one
 * `finishStep` (lazy embedding updates skip the rows a step did not touch; a split update does the
 * rows the next step reads first). Every optimizer is element-wise, so how a step's parameters are
 * cut into ranges, and in what order, changes no bit. Build one with `createOptimizer`.
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
  /** Updates the parameters of `pairs` disjoint ranges [bounds[2k], bounds[2k + 1]) for the current step: many ranges for the price of one call. */
  applyRanges(params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void;
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
 * Checks `applyRanges`' arguments: both arrays of `size` values, and `pairs` ranges within them.
 * Throws RangeError naming `who` and the first bad range.
 */
export function checkRanges(who: string, size: number, params: Float32Array, grads: Float32Array, bounds: Uint32Array, pairs: number): void {
  if (params.length !== size || grads.length !== size) throw new RangeError(`${who}: expected ${size} values, got params ${params.length}, grads ${grads.length}`);
  if (!(pairs >= 0 && 2 * pairs <= bounds.length)) throw new RangeError(`${who}: ${pairs} ranges, but ${bounds.length} bounds`);
  for (let k = 0; k < 2 * pairs; k += 2) {
    if (bounds[k]! > bounds[k + 1]! || bounds[k + 1]! > size) throw new RangeError(`${who}: [${bounds[k]}, ${bounds[k + 1]}) is outside [0, ${size})`);
  }
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
