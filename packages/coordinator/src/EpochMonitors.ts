import type { Checkpoint, JobConfig, Log } from '@adamant/core';
import { EarlyStopping, monitorDirection, type EarlyStoppingVerdict, type MonitorDirection } from './EarlyStopping.js';
import type { EarlyStop, EpochReport } from './reports.js';
import { epochLogs } from './RunHistory.js';

/** What a checkpoint keeps of the monitors (core's schema). */
export type MonitoringState = NonNullable<Checkpoint['monitoring']>;

/** The best epoch so far by the monitored value: what `<out>/best/` holds. Epochs 1-based. */
export interface BestEpoch {
  monitor: string;
  value: number;
  epoch: number;
}

/**
 * What watches the epochs' figures: early stopping (when the job configures it) and the best
 * model. The best model follows `earlyStopping.monitor` when set, else `val_loss` when the job
 * validates, else `loss`. With early stopping it is early stopping's best (its `minDelta` and
 * `startFromEpoch` included), so that a run stopped with `restoreBestWeights` ends on exactly the
 * weights of best/; without, any strictly better value is a new best, as Keras's
 * `ModelCheckpoint(save_best_only=True)` has it.
 */
export class EpochMonitors {
  readonly earlyStopping: EarlyStopping | undefined;
  readonly monitor: string;
  private readonly direction: MonitorDirection;
  private best: BestEpoch | undefined;

  constructor(
    config: Pick<JobConfig, 'earlyStopping'>,
    validates: boolean,
    private readonly log: Log,
  ) {
    const spec = config.earlyStopping;
    this.earlyStopping = spec ? new EarlyStopping(spec) : undefined;
    this.monitor = spec?.monitor ?? (validates ? 'val_loss' : 'loss');
    this.direction = monitorDirection(this.monitor, spec?.mode ?? 'auto');
  }

  /**
   * The end of an epoch whose report is complete (validated) and whose weights are `weights`:
   * updates early stopping and the best epoch, and adds their figures to the report. The verdict
   * says whether the epoch is the new best and whether training stops (and with which weights).
   */
  epochEnded(report: EpochReport, weights: Float32Array): EarlyStoppingVerdict {
    const value = epochLogs(report)[this.monitor];
    if (value === undefined) this.log.warn(`the monitored ${this.monitor} is not among this epoch's figures; nothing is compared`, { epoch: report.epoch });
    const stopping = this.earlyStopping;
    const verdict = stopping ? stopping.epochEnded(report.epoch - 1, value, weights) : { improved: value !== undefined && this.beats(value), stop: false };
    if (verdict.improved) this.best = { monitor: this.monitor, value: value!, epoch: report.epoch };
    report.improved = verdict.improved;
    if (stopping) {
      const { best, bestEpoch, wait } = stopping.figures;
      report.earlyStopping = { best, bestEpoch: bestEpoch + 1, wait, stop: verdict.stop };
    }
    return verdict;
  }

  /** The best epoch so far, if any epoch has been compared. */
  get bestEpoch(): BestEpoch | undefined {
    return this.best ? { ...this.best } : undefined;
  }

  /** Whether early stopping has ended the run (a resumed early-stopped run has nothing left to train). */
  get stopped(): boolean {
    return this.earlyStopping?.stopped === true;
  }

  /** Why and where early stopping ended the run, once it has. */
  get earlyStop(): EarlyStop | undefined {
    const stopping = this.earlyStopping;
    if (!stopping?.stopped) return undefined;
    const { best, bestEpoch, wait, stoppedEpoch } = stopping.figures;
    // A stop comes after at least one compared epoch, so best is set, and with restoreBestWeights so are the weights.
    return { epoch: stoppedEpoch + 1, monitor: this.monitor, best: best!, bestEpoch: bestEpoch + 1, wait, restoredBestWeights: stopping.restoresBestWeights };
  }

  /** A copy of the state, for a checkpoint. */
  state(): MonitoringState {
    return {
      ...(this.earlyStopping ? { earlyStopping: this.earlyStopping.state() } : {}),
      bestModel: { monitor: this.monitor, best: this.best?.value ?? null, epoch: this.best?.epoch ?? 0 },
    };
  }

  /**
   * Continues from a checkpoint's state. A checkpoint from before these monitors, or one that
   * monitored another value (the config changed), starts them afresh, and says so.
   */
  restore(state: MonitoringState | undefined, weightCount: number): void {
    const saved = state?.bestModel;
    if (saved && saved.monitor === this.monitor) {
      this.best = saved.best === null ? undefined : { monitor: this.monitor, value: saved.best, epoch: saved.epoch };
    } else if (saved) {
      this.log.warn(`the checkpoint's best model was by ${saved.monitor}, this job monitors ${this.monitor}: comparing afresh from here`);
    }
    if (!this.earlyStopping) return;
    if (state?.earlyStopping?.monitor === this.monitor) {
      this.earlyStopping.restore(state.earlyStopping, weightCount);
    } else {
      this.log.warn(`the checkpoint holds no early stopping state for ${this.monitor}: early stopping starts afresh from here`);
    }
  }

  /** Strictly better than the best so far (anything beats none). */
  private beats(value: number): boolean {
    if (!this.best) return true;
    return this.direction === 'min' ? value < this.best.value : value > this.best.value;
  }
}
