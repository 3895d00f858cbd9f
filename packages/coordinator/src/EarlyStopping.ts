import type { Checkpoint, JobConfig } from '@adamant/core';

/** The config's `earlyStopping` block (Keras's arguments, camelCase). */
type EarlyStoppingSpec = NonNullable<JobConfig['earlyStopping']>;

/** Which way a monitored value gets better. */
export type MonitorDirection = 'min' | 'max';

/** Early stopping's part of a checkpoint (core's schema; epochs are 0-based, as Keras counts them). */
export type EarlyStoppingState = NonNullable<NonNullable<Checkpoint['monitoring']>['earlyStopping']>;

/** Metrics Keras maximises under `mode: auto` (their `_direction` is up); everything else, loss and mae among them, is minimised. */
const RISING_METRICS = ['accuracy', 'auc', 'precision', 'recall'];

/** Keras's `mode` for a log name: `auto` maximises accuracy, auc, precision and recall (plain or val_), and minimises the rest. */
export function monitorDirection(monitor: string, mode: EarlyStoppingSpec['mode']): MonitorDirection {
  if (mode !== 'auto') return mode;
  const name = monitor.startsWith('val_') ? monitor.slice(4) : monitor;
  return RISING_METRICS.some((metric) => name.includes(metric)) ? 'max' : 'min';
}

/** What one epoch's end did. `restore` is set when training stops and the best weights are to replace the current ones. */
export interface EarlyStoppingVerdict {
  /** The epoch set a new best (always true for the first epoch considered). */
  improved: boolean;
  /** Training stops after this epoch. */
  stop: boolean;
  restore?: Float32Array;
}

const UNCHANGED: EarlyStoppingVerdict = { improved: false, stop: false };

/**
 * Keras 3's `EarlyStopping` callback, `on_epoch_end` transcribed: after `startFromEpoch`, every
 * epoch counts one more wait; a value better than the best by more than `minDelta` (in the
 * direction `mode` sets) becomes the best and, if it also beats `baseline`, clears the wait; once
 * the wait reaches `patience` (and never at epoch 0) training stops, and with `restoreBestWeights`
 * the weights held from the best epoch are put back. A run that ends without stopping keeps its
 * last weights, as in Keras. Its whole state is `state()`, so a checkpoint continues it exactly.
 */
export class EarlyStopping {
  readonly monitor: string;
  readonly direction: MonitorDirection;
  /** Keras's `min_delta` with its sign: subtracted from the current value, so negative when lower is better. */
  private readonly minDelta: number;
  private best: number | null = null;
  private bestEpoch = 0;
  private wait = 0;
  private stoppedEpoch = 0;
  private bestWeights: Float32Array | null = null;

  constructor(private readonly spec: EarlyStoppingSpec) {
    this.monitor = spec.monitor;
    this.direction = monitorDirection(spec.monitor, spec.mode);
    this.minDelta = this.direction === 'min' ? -Math.abs(spec.minDelta) : Math.abs(spec.minDelta);
  }

  /**
   * The end of 0-based epoch `epoch`, whose monitored value is `current` (undefined when the epoch
   * did not log it, which Keras skips) and whose weights are `weights` (copied when held as the best).
   */
  epochEnded(epoch: number, current: number | undefined, weights: Float32Array): EarlyStoppingVerdict {
    if (current === undefined || epoch < this.spec.startFromEpoch) return UNCHANGED;
    if (this.spec.restoreBestWeights && this.bestWeights === null) {
      // Best weights never set: the current ones are the best.
      this.holdWeights(weights);
      this.bestEpoch = epoch;
    }
    this.wait += 1;
    if (this.isImprovement(current, this.best)) {
      this.best = current;
      this.bestEpoch = epoch;
      if (this.spec.restoreBestWeights) this.holdWeights(weights);
      // Only a value that beats both the baseline and the previous best restarts the wait.
      if (this.spec.baseline === undefined || this.isImprovement(current, this.spec.baseline)) this.wait = 0;
      return { improved: true, stop: false };
    }
    if (this.wait >= this.spec.patience && epoch > 0) {
      this.stoppedEpoch = epoch;
      return { improved: false, stop: true, ...(this.spec.restoreBestWeights && this.bestWeights ? { restore: this.bestWeights } : {}) };
    }
    return UNCHANGED;
  }

  /** Whether a stop puts the best epoch's weights back. */
  get restoresBestWeights(): boolean {
    return this.spec.restoreBestWeights;
  }

  /** Whether training was stopped (Keras: `stopped_epoch > 0`, since epoch 0 never stops). */
  get stopped(): boolean {
    return this.stoppedEpoch > 0;
  }

  /** The figures an epoch report and the run's result show (epochs 0-based). */
  get figures(): { best: number | null; bestEpoch: number; wait: number; stoppedEpoch: number } {
    return { best: this.best, bestEpoch: this.bestEpoch, wait: this.wait, stoppedEpoch: this.stoppedEpoch };
  }

  /** A copy of the whole state, for a checkpoint. */
  state(): EarlyStoppingState {
    return { monitor: this.monitor, ...this.figures, bestWeights: this.bestWeights ? this.bestWeights.slice() : null };
  }

  /** Continues from `state()`; refuses one that monitored another value or holds weights of another size. */
  restore(state: EarlyStoppingState, weightCount: number): void {
    if (state.monitor !== this.monitor) throw new RangeError(`early stopping monitored ${state.monitor}, this job monitors ${this.monitor}`);
    if (state.bestWeights && state.bestWeights.length !== weightCount) {
      throw new RangeError(`early stopping's best weights have ${state.bestWeights.length} values, the model has ${weightCount}`);
    }
    this.best = state.best;
    this.bestEpoch = state.bestEpoch;
    this.wait = state.wait;
    this.stoppedEpoch = state.stoppedEpoch;
    this.bestWeights = state.bestWeights ? state.bestWeights.slice() : null;
  }

  /** Keras's `_is_improvement`: anything beats no reference; otherwise the signed `minDelta` must be cleared. */
  private isImprovement(value: number, reference: number | null): boolean {
    if (reference === null) return true;
    return this.direction === 'min' ? value - this.minDelta < reference : value - this.minDelta > reference;
  }

  /** Copies into the one buffer it keeps (allocated on first use), not a new array per improvement. */
  private holdWeights(weights: Float32Array): void {
    if (this.bestWeights?.length !== weights.length) this.bestWeights = new Float32Array(weights.length);
    this.bestWeights.set(weights);
  }
}
