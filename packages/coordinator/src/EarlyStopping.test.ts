import { mulberry32 } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { EarlyStopping, monitorDirection } from './EarlyStopping.js';

type Spec = ConstructorParameters<typeof EarlyStopping>[0];

/**
 * Keras 3's `EarlyStopping` (keras/src/callbacks/early_stopping.py), transcribed line by line with
 * Python's names, against a stand-in model whose weights are the number of the epoch that set them.
 * `ops.less`/`ops.greater` on Python floats are plain comparisons of float64 values.
 */
class KerasEarlyStopping {
  monitor: string;
  patience: number;
  baseline: number | null;
  min_delta: number;
  wait = 0;
  stopped_epoch = 0;
  restore_best_weights: boolean;
  best_weights: number | null = null;
  start_from_epoch: number;
  mode: string;
  monitor_op: ((a: number, b: number) => boolean) | null = null;
  best: number | null = null;
  best_epoch = 0;
  model = { stop_training: false, weights: -1 };

  constructor(spec: Spec) {
    this.monitor = spec.monitor;
    this.patience = spec.patience;
    this.baseline = spec.baseline ?? null;
    this.min_delta = Math.abs(spec.minDelta);
    this.restore_best_weights = spec.restoreBestWeights;
    this.start_from_epoch = spec.startFromEpoch;
    this.mode = spec.mode;
  }

  _set_monitor_op(): void {
    const less = (a: number, b: number) => a < b;
    const greater = (a: number, b: number) => a > b;
    if (this.mode === 'min') this.monitor_op = less;
    else if (this.mode === 'max') this.monitor_op = greater;
    else {
      const metric_name = this.monitor.replace(/^val_/, '');
      if (metric_name === 'loss') this.monitor_op = less;
      // The compiled metrics and their `_direction`: accuracy, auc, precision and recall go up, mae down.
      const directions: Record<string, 'up' | 'down'> = { accuracy: 'up', auc: 'up', precision: 'up', recall: 'up', mae: 'down' };
      const direction = directions[metric_name];
      if (direction !== undefined) this.monitor_op = direction === 'up' ? greater : less;
    }
    if (this.monitor_op === null) throw new Error(`EarlyStopping callback received monitor=${this.monitor} but Keras isn't able to automatically determine`);
    if (this.monitor_op(1, 2)) this.min_delta *= -1; // monitor_op == ops.less
  }

  on_train_begin(): void {
    this.wait = 0;
    this.stopped_epoch = 0;
    this.best = null;
    this.best_weights = null;
    this.best_epoch = 0;
  }

  on_epoch_end(epoch: number, logs: Record<string, number>): void {
    if (this.monitor_op === null) this._set_monitor_op();
    const current = logs[this.monitor];
    if (current === undefined || epoch < this.start_from_epoch) return;
    if (this.restore_best_weights && this.best_weights === null) {
      this.best_weights = this.model.weights;
      this.best_epoch = epoch;
    }
    this.wait += 1;
    if (this._is_improvement(current, this.best)) {
      this.best = current;
      this.best_epoch = epoch;
      if (this.restore_best_weights) this.best_weights = this.model.weights;
      if (this.baseline === null || this._is_improvement(current, this.baseline)) this.wait = 0;
      return;
    }
    if (this.wait >= this.patience && epoch > 0) {
      this.stopped_epoch = epoch;
      this.model.stop_training = true;
      if (this.restore_best_weights && this.best_weights !== null) this.model.weights = this.best_weights;
    }
  }

  _is_improvement(monitor_value: number, reference_value: number | null): boolean {
    if (reference_value === null) return true;
    return this.monitor_op!(monitor_value - this.min_delta, reference_value);
  }
}

const defaults: Spec = { monitor: 'val_loss', mode: 'auto', patience: 0, minDelta: 0, restoreBestWeights: false, startFromEpoch: 0 };

/** Runs both on `values` (undefined: the epoch did not log the monitor) and checks every epoch's state and the outcome agree. */
function compare(spec: Spec, values: (number | undefined)[]): { stoppedAt: number | undefined; weights: number } {
  const keras = new KerasEarlyStopping(spec);
  keras.on_train_begin();
  const ours = new EarlyStopping(spec);
  let weights = -1;
  let stoppedAt: number | undefined;
  for (const [epoch, value] of values.entries()) {
    // Training the epoch: both models now hold this epoch's weights.
    keras.model.weights = epoch;
    weights = epoch;
    keras.on_epoch_end(epoch, value === undefined ? {} : { [spec.monitor]: value });
    const verdict = ours.epochEnded(epoch, value, Float32Array.of(epoch));
    if (verdict.restore) weights = verdict.restore[0]!;
    const { best, bestEpoch, wait, stoppedEpoch } = ours.figures;
    expect({ best, bestEpoch, wait, stoppedEpoch }, `epoch ${epoch}`).toEqual({ best: keras.best, bestEpoch: keras.best_epoch, wait: keras.wait, stoppedEpoch: keras.stopped_epoch });
    expect(verdict.stop, `epoch ${epoch}`).toBe(keras.model.stop_training);
    if (verdict.stop) {
      stoppedAt = epoch;
      break;
    }
  }
  expect(weights).toBe(keras.model.weights);
  expect(ours.stopped).toBe(keras.stopped_epoch > 0);
  return { stoppedAt, weights };
}

describe('EarlyStopping is Keras 3\'s EarlyStopping', () => {
  it('stops once the wait reaches patience, the best epoch counted from 0, and restores the best weights', () => {
    const spec = { ...defaults, patience: 2, restoreBestWeights: true };
    expect(compare(spec, [3, 2, 2.5, 2.4, 2.6])).toEqual({ stoppedAt: 3, weights: 1 });
    // Without restoreBestWeights the last weights stay; a run that never stops keeps them too.
    expect(compare({ ...spec, restoreBestWeights: false }, [3, 2, 2.5, 2.4, 2.6])).toEqual({ stoppedAt: 3, weights: 3 });
    expect(compare(spec, [3, 2, 1.5, 2.4])).toEqual({ stoppedAt: undefined, weights: 3 });
  });

  it('never stops at epoch 0, even with patience 0, and ties are no improvement', () => {
    expect(compare({ ...defaults, patience: 0 }, [1, 1]).stoppedAt).toBe(1);
    expect(compare({ ...defaults, patience: 0, mode: 'max', monitor: 'val_accuracy' }, [0.5, 0.6, 0.6]).stoppedAt).toBe(2);
  });

  it('needs more than minDelta to improve, in the direction of the mode', () => {
    expect(compare({ ...defaults, patience: 1, minDelta: 0.1 }, [1, 0.95, 0.85]).stoppedAt).toBe(1);
    expect(compare({ ...defaults, patience: 2, minDelta: 0.1 }, [1, 0.95, 0.85])).toEqual({ stoppedAt: undefined, weights: 2 });
    expect(compare({ ...defaults, monitor: 'val_accuracy', patience: 1, minDelta: 0.05 }, [0.5, 0.54, 0.6]).stoppedAt).toBe(1);
  });

  it('skips the epochs before startFromEpoch and the epochs that did not log the monitor', () => {
    const spec = { ...defaults, patience: 1, startFromEpoch: 2, restoreBestWeights: true };
    expect(compare(spec, [0.1, 0.05, 1, 2, 3])).toEqual({ stoppedAt: 3, weights: 2 });
    expect(compare({ ...defaults, patience: 1 }, [undefined, 1, undefined, 2]).stoppedAt).toBe(3);
  });

  it('keeps the wait running while the best does not beat the baseline', () => {
    const spec = { ...defaults, patience: 3, baseline: 0.5, restoreBestWeights: true };
    // Improving each epoch but never under 0.5: the wait grows, yet an improving epoch never stops the run.
    expect(compare(spec, [1, 0.9, 0.8, 0.7, 0.6])).toEqual({ stoppedAt: undefined, weights: 4 });
    expect(compare(spec, [1, 0.9, 0.8, 0.85, 0.6])).toEqual({ stoppedAt: 3, weights: 2 });
    expect(compare(spec, [1, 0.4, 0.8, 0.85, 0.6, 0.7])).toEqual({ stoppedAt: 4, weights: 1 });
  });

  it.each([
    ['loss', 'min'],
    ['val_loss', 'min'],
    ['mae', 'min'],
    ['val_accuracy', 'max'],
    ['auc', 'max'],
    ['val_precision', 'max'],
    ['recall', 'max'],
  ] as const)('mode auto picks %s: %s', (monitor, direction) => {
    expect(monitorDirection(monitor, 'auto')).toBe(direction);
    expect(monitorDirection(monitor, 'min')).toBe('min');
    expect(monitorDirection(monitor, 'max')).toBe('max');
    expect(compare({ ...defaults, monitor, patience: 1 }, [0.5, 0.6, 0.4, 0.7, 0.3]).stoppedAt).toBe(direction === 'min' ? 1 : 2);
  });

  it('agrees with Keras on 2,000 random sequences with ties, every option drawn at random', () => {
    const random = mulberry32(2024);
    const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
    for (let run = 0; run < 2000; run++) {
      const spec: Spec = {
        monitor: pick(['loss', 'val_loss', 'val_accuracy', 'mae', 'auc']),
        mode: pick(['auto', 'min', 'max'] as const),
        patience: Math.floor(random() * 4),
        minDelta: pick([0, 0, 0.01, 0.1]),
        restoreBestWeights: random() < 0.5,
        startFromEpoch: pick([0, 0, 1, 3]),
        ...(random() < 0.25 ? { baseline: random() } : {}),
      };
      // Values on a coarse grid, so ties and exact minDelta steps happen.
      const values = Array.from({ length: 12 }, () => (random() < 0.05 ? undefined : Math.round(random() * 20) / 20));
      compare(spec, values);
    }
  });

  it('continues from its state exactly: a run split by state() and restore() ends as the run that never stopped', () => {
    const spec = { ...defaults, patience: 4, restoreBestWeights: true };
    const values = [5, 4, 4.5, 3, 3.5, 3.2, 3.1, 3.3];
    const whole = new EarlyStopping(spec);
    const first = new EarlyStopping(spec);
    const verdicts = values.map((v, epoch) => whole.epochEnded(epoch, v, Float32Array.of(epoch, -epoch)));
    for (const [epoch, v] of values.slice(0, 5).entries()) first.epochEnded(epoch, v, Float32Array.of(epoch, -epoch));
    const state = first.state();
    expect(state).toMatchObject({ monitor: 'val_loss', best: 3, bestEpoch: 3, wait: 1, stoppedEpoch: 0, bestWeights: Float32Array.of(3, -3) });
    const second = new EarlyStopping(spec);
    second.restore(state, 2);
    const resumed = values.slice(5).map((v, i) => second.epochEnded(5 + i, v, Float32Array.of(5 + i, -5 - i)));
    expect(resumed).toEqual(verdicts.slice(5));
    expect(second.state()).toEqual(whole.state());
    expect(verdicts.at(-1)).toEqual({ improved: false, stop: true, restore: Float32Array.of(3, -3) });
    expect(() => second.restore({ ...state, monitor: 'loss' }, 2)).toThrow(/monitored loss, this job monitors val_loss/);
    expect(() => second.restore(state, 3)).toThrow(/best weights have 2 values, the model has 3/);
  });
});
