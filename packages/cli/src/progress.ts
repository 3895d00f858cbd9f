import type { EpochReport, StepReport, WorkerEvent } from '@adamant/coordinator';
import { chunkSizeOf, type JobConfig, type Log, silentLog } from '@adamant/core';
import { epochFields, type EpochFigures, formatBarLine, formatEpochLine, formatPlainLine, formatWorkerLine, progressFields } from './progressFormat.js';
import { stderrArea } from './terminal.js';

/** How the progress of a run is shown. */
export interface ProgressOptions {
  /** `--json`: stdout holds only the final object, so epoch lines go to stderr. */
  json?: boolean;
  /** `--quiet`: nothing but errors and the final result. */
  quiet?: boolean;
  /** `--log-json`: stderr holds only JSON lines, so progress and epochs are log records. */
  logJson?: boolean;
  /** Seconds between the periodic lines when stderr is no terminal (default 10). */
  progressEvery?: number;
}

/**
 * - `bar`: stderr is a terminal; a bar and a worker line redrawn in place.
 * - `lines`: stderr is a file or a pipe; a plain line at most every `progressEvery` seconds.
 * - `log`: `--log-json`; the same, as info-level log records.
 * - `quiet`: `--quiet`.
 */
type Mode = 'bar' | 'lines' | 'log' | 'quiet';

/** Redraws of the bar at most this often: a terminal needs no more, and fast steps would flood it. */
const REDRAW_MS = 100;

/** The running figures of the epoch in progress, as this process saw its steps. */
class EpochWindow {
  steps = 0;
  samples = 0;
  chunks = 0;
  stepMs = 0;
  last: StepReport | undefined;

  constructor(
    readonly epoch: number,
    /** When its first step seen began (performance.now()). */
    readonly startedAt: number,
  ) {}

  add(r: StepReport, chunks: number): void {
    this.steps++;
    this.samples += r.samples;
    this.chunks += chunks;
    this.stepMs += r.stepMs;
    this.last = r;
  }

  seconds(now: number): number {
    return Math.max(1e-3, (now - this.startedAt) / 1000);
  }
}

/**
 * What a person sees while training: on a terminal, a Keras-style bar for the current epoch with
 * a worker line under it; otherwise plain lines now and then. Each epoch ends in one line (stdout,
 * or stderr with `--json`). It also hands worker events on to whoever else listens (`onWorkerEvent`).
 */
export class TrainingProgress {
  private readonly mode: Mode;
  private readonly everyMs: number;
  private epochs: number | undefined;
  private chunkSize: number | undefined;
  private window: EpochWindow | undefined;
  private workers = 0;
  private lastShownAt = 0;
  private firstStepAt: number | undefined;
  private stopped = false;
  private readonly listeners: ((e: WorkerEvent) => void)[] = [];

  constructor(
    private readonly options: ProgressOptions = {},
    private readonly log: Log = silentLog,
    stderrIsTerminal = process.stderr.isTTY === true,
  ) {
    this.mode = options.quiet ? 'quiet' : options.logJson ? 'log' : stderrIsTerminal ? 'bar' : 'lines';
    this.everyMs = (options.progressEvery ?? 10) * 1000;
  }

  /** The job's epochs (for `Epoch 3/10` before the first epoch ends) and chunk size (for chunks/s). */
  describeJob(config: Pick<JobConfig, 'epochs' | 'batchSize' | 'chunkSize'>): void {
    this.epochs = config.epochs;
    this.chunkSize = chunkSizeOf(config);
  }

  /** Also tells `listener` of every worker that joins or leaves. */
  onWorkerEvent(listener: (e: WorkerEvent) => void): void {
    this.listeners.push(listener);
  }

  worker = (e: WorkerEvent): void => {
    this.workers = e.workers;
    for (const listener of this.listeners) listener(e);
    // "worker left" is the coordinator's log line; said here too, it would be said twice.
    if (this.mode === 'bar' && !this.stopped) this.draw(performance.now());
  };

  step = (r: StepReport): void => {
    if (this.mode === 'quiet' || this.stopped) return;
    const now = performance.now();
    if (this.window?.epoch !== r.epoch) this.window = new EpochWindow(r.epoch, now - r.stepMs);
    this.window.add(r, this.chunkSize ? Math.ceil(r.samples / this.chunkSize) : 0);
    this.firstStepAt ??= now;
    if (this.mode === 'bar') {
      if (now - this.lastShownAt >= REDRAW_MS || r.batch + 1 === r.batches) this.draw(now);
      return;
    }
    if (now - Math.max(this.lastShownAt, this.firstStepAt) < this.everyMs) return;
    this.lastShownAt = now;
    const figures = this.figures(now)!;
    if (this.mode === 'lines') process.stderr.write(`${formatPlainLine(figures, this.workers)}\n`);
    else this.log.info('progress', progressFields(figures, this.workers));
  };

  validate = (e: { epoch: number; samples: number }): void => {
    if (this.mode === 'bar' && !this.stopped) this.draw(performance.now(), `Epoch ${e.epoch}${this.epochs ? `/${this.epochs}` : ''}  validating on ${e.samples} samples...`);
  };

  epoch = (r: EpochReport): void => {
    const window = this.window?.epoch === r.epoch - 1 ? this.window : undefined;
    this.window = undefined;
    stderrArea.clear();
    if (this.mode === 'quiet') return;
    if (this.mode === 'log' && this.options.json) {
      this.log.info('epoch', epochFields(r));
      return;
    }
    const line = formatEpochLine(r, window?.steps ? window.stepMs / window.steps : undefined);
    (this.options.json ? process.stderr : process.stdout).write(`${line}\n`);
  };

  /**
   * A message for the person at the terminal that is no error (a run stopped by a signal): `text`
   * on stderr, or with `--log-json` a warning record of its first line, the rest as `hint`.
   */
  notice(text: string, fields: Record<string, unknown>): void {
    stderrArea.clear();
    if (this.mode !== 'log') {
      process.stderr.write(text);
      return;
    }
    const [first = '', ...rest] = text.trim().split('\n');
    this.log.warn(first.replace(/^adamant: /, ''), { ...fields, hint: rest.map((line) => line.trim()).join(' ') });
  }

  /** Removes the bar for good and shows the cursor (the end of training, or a signal). */
  stop(): void {
    this.stopped = true;
    stderrArea.clear();
  }

  private figures(now: number): EpochFigures | undefined {
    const w = this.window;
    const r = w?.last;
    if (!w || !r) return undefined;
    const seconds = w.seconds(now);
    const done = r.batch + 1;
    return {
      epoch: r.epoch + 1,
      epochs: this.epochs,
      done,
      batches: r.batches,
      loss: r.epochLoss,
      metrics: r.epochMetrics,
      etaSeconds: (seconds / w.steps) * (r.batches - done),
      samplesPerSecond: w.samples / seconds,
      msPerStep: w.stepMs / w.steps,
    };
  }

  private draw(now: number, status?: string): void {
    this.lastShownAt = now;
    const figures = this.figures(now);
    const top = status ?? (figures ? formatBarLine(figures) : undefined);
    const chunksPerSecond = this.window && this.chunkSize ? this.window.chunks / this.window.seconds(now) : undefined;
    stderrArea.draw([...(top ? [top] : []), formatWorkerLine(this.workers, chunksPerSecond)]);
  }
}
