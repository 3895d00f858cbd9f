import { statSync } from 'node:fs';
import type { ChunkResult, JobConfig } from '@adamant/core';
import type { EpochReport, StepReport } from '../reports.js';
import type { HttpRouteHandler, SessionObserver } from '../WorkerServerHooks.js';
import type { WorkerSession } from '../workerSession.js';
import { BoundedSeries, type SeriesRow } from './BoundedSeries.js';
import { MonitorRoutes } from './MonitorRoutes.js';
import type { MonitorDelta, MonitorJob, MonitorSnapshot, MonitorStatus, MonitorView, Readiness, RunPhase } from './MonitorView.js';
import { PrometheusMetrics } from './PrometheusMetrics.js';
import { StepTimeline, type StepTimeSplit } from './StepTimeline.js';
import { WorkerTable } from './WorkerTable.js';

export interface RunMonitorOptions {
  config: JobConfig;
  jobId: string;
  minWorkers: number;
  /** Serve the dashboard (`/`, its assets, `/events`). */
  dashboard: boolean;
  /** Serve `/metrics` (default true). */
  metrics?: boolean;
  /** Names of the sessions --verify quarantined (a session that leaves under one of them is shown quarantined). */
  quarantined: () => readonly string[];
  /** The last checkpoint file written, if any. */
  lastCheckpoint: () => string | undefined;
  /** Rows kept per series (default 2,000). */
  seriesCapacity?: number;
}

/** How many recent steps the dashboard's step-time bar averages. */
const RECENT_SPLITS = 20;

/**
 * What the coordinator's HTTP routes show, in bounded memory: the job's config, per-step and
 * per-epoch figures, the workers table, where each step's time went, bytes, reassigned chunks,
 * the checkpoint's age, and whether training can proceed. Fed by the worker server (sessions,
 * traffic, chunk results: it is its SessionObserver) and by the coordinator (step and epoch
 * reports, reassignments). It only watches: nothing it does reaches the training's numbers.
 * `routes` answers HTTP requests on the coordinator's port.
 */
export class RunMonitor implements SessionObserver, MonitorView {
  readonly routes: HttpRouteHandler;
  readonly metrics: PrometheusMetrics | undefined;
  private readonly job: MonitorJob;
  private readonly workers = new WorkerTable();
  private readonly timeline = new StepTimeline();
  private readonly stepSeries: BoundedSeries;
  private readonly epochSeries: BoundedSeries;
  private readonly splitSeries: BoundedSeries;
  private readonly recentSplits: StepTimeSplit[] = [];
  private readonly pending: { steps: SeriesRow[]; epochs: SeriesRow[]; splits: SeriesRow[]; overflowed: boolean } = { steps: [], epochs: [], splits: [], overflowed: false };
  private readonly totals = { steps: 0, samples: 0, chunks: 0, chunksReassigned: 0, bytesIn: 0, bytesOut: 0 };
  private readonly position: MonitorStatus['position'];
  private readonly startedAt = performance.now();
  private readonly closeListeners: (() => void)[] = [];
  private phase: RunPhase = 'waiting';
  private started = false;

  constructor(private readonly options: RunMonitorOptions) {
    const { config } = options;
    const capacity = options.seriesCapacity ?? 2_000;
    this.stepSeries = new BoundedSeries(capacity);
    this.epochSeries = new BoundedSeries(capacity);
    this.splitSeries = new BoundedSeries(capacity);
    this.position = { epoch: 0, epochs: config.epochs, batch: 0, batches: 0, step: 0 };
    this.job = {
      jobId: options.jobId,
      config,
      minWorkers: options.minWorkers,
      stepColumns: ['step', 'loss', 'epoch_loss', ...config.metrics],
      epochColumns: ['epoch', 'loss', ...config.metrics, 'val_loss', ...config.metrics.map((m) => `val_${m}`)],
      splitColumns: ['step', 'compute', 'waiting', 'communication', 'update'],
    };
    this.metrics =
      options.metrics === false ? undefined : new PrometheusMetrics({ workerCounts: () => this.workers.counts(), checkpointAgeSeconds: () => this.checkpointAgeSeconds() });
    this.routes = new MonitorRoutes(this, { dashboard: options.dashboard, ...(this.metrics ? { metrics: this.metrics } : {}) }).handle;
  }

  // SessionObserver: what the worker server sees.

  joined(session: WorkerSession, address: string): void {
    this.workers.joined(session, address);
  }

  ready(session: WorkerSession): void {
    this.workers.ready(session);
    if (this.workers.counts().ready >= this.options.minWorkers) this.start();
  }

  chunk(session: WorkerSession, message: ChunkResult): void {
    const at = performance.now();
    this.totals.chunks++;
    this.workers.chunk(session.id);
    this.metrics?.chunk();
    // Validation rounds share the next step's number; only training results make up a step's time.
    if (message.evaluate !== true) this.timeline.chunk(session.id, message.step, message.computeMs, at);
  }

  traffic(session: WorkerSession, received: number, sent: number): void {
    this.totals.bytesIn += received;
    this.totals.bytesOut += sent;
    this.workers.bytes(session.id, received, sent);
    this.metrics?.bytes(received, sent);
  }

  left(session: WorkerSession, reason: string, jobOver: boolean): void {
    this.workers.left(session, reason, !jobOver, this.options.quarantined().includes(session.name));
  }

  ended(how: 'finished' | 'stopped' | 'closed'): void {
    if (how !== 'closed' || this.phase === 'waiting' || this.phase === 'training') this.phase = how;
    if (how === 'closed') for (const listener of this.closeListeners.splice(0)) listener();
  }

  // What the coordinator tells.

  /** A worker's chunks of the step in progress went to others when it left. */
  reassigned(session: WorkerSession, chunks: number): void {
    if (chunks <= 0) return;
    this.totals.chunksReassigned += chunks;
    this.workers.reassigned(session, chunks);
    this.metrics?.chunksReassigned(chunks);
  }

  step(report: StepReport): void {
    const at = performance.now();
    this.start();
    this.totals.steps++;
    this.totals.samples += report.samples;
    Object.assign(this.position, { epoch: report.epoch + 1, batch: report.batch + 1, batches: report.batches, step: report.step });
    const metrics = this.options.config.metrics.map((name) => report.epochMetrics[name]);
    this.record(this.stepSeries, this.pending.steps, [report.step, report.loss, report.epochLoss, ...metrics]);
    const split = this.timeline.finish(report.step - 1, report.stepMs, at);
    if (split) {
      this.record(this.splitSeries, this.pending.splits, [split.step + 1, split.compute, split.waiting, split.communication, split.update]);
      this.recentSplits.push(split);
      if (this.recentSplits.length > RECENT_SPLITS) this.recentSplits.shift();
    }
    this.metrics?.step(report.samples, report.loss, report.epoch + 1, report.stepMs, split);
  }

  epoch(report: EpochReport): void {
    const names = this.options.config.metrics;
    const validated = report.valLoss !== undefined;
    const row = [report.epoch, report.loss, ...names.map((n) => report.metrics[n]), validated ? report.valLoss : null, ...names.map((n) => report.valMetrics?.[n])];
    this.record(this.epochSeries, this.pending.epochs, row);
    this.metrics?.epochDone(report.epoch, report.loss, report.valLoss);
  }

  // MonitorView: what the routes read.

  snapshot(): MonitorSnapshot {
    return { job: this.job, ...this.status(), steps: [...this.stepSeries.rows], epochs: [...this.epochSeries.rows], splits: [...this.splitSeries.rows] };
  }

  takeDelta(): MonitorDelta | 'resync' {
    const { steps, epochs, splits, overflowed } = this.pending;
    this.pending.steps = [];
    this.pending.epochs = [];
    this.pending.splits = [];
    this.pending.overflowed = false;
    return overflowed ? 'resync' : { ...this.status(), steps, epochs, splits };
  }

  readiness(): Readiness {
    const readyWorkers = this.workers.counts().ready;
    const neededWorkers = this.started ? 1 : this.options.minWorkers;
    const base = { phase: this.phase, readyWorkers, neededWorkers };
    if (this.phase !== 'waiting' && this.phase !== 'training') return { ready: false, reason: `training is over (${this.phase})`, ...base };
    if (readyWorkers < neededWorkers) return { ready: false, reason: `waiting for workers: ${readyWorkers} of ${neededWorkers} ready`, ...base };
    return { ready: true, reason: this.started ? 'training' : 'enough workers are ready to start', ...base };
  }

  onClose(listener: () => void): void {
    this.closeListeners.push(listener);
  }

  checkpointAgeSeconds(): number {
    const file = this.options.lastCheckpoint();
    let writtenAt = performance.timeOrigin + this.startedAt;
    if (file) {
      try {
        writtenAt = statSync(file).mtimeMs;
      } catch {
        // Pruned or moved since: count from the start, as before any checkpoint.
      }
    }
    return Math.max(0, (Date.now() - writtenAt) / 1000);
  }

  private status(): MonitorStatus {
    const mean = (part: 'compute' | 'waiting' | 'communication' | 'update' | 'total') => {
      const values = this.recentSplits.map((s) => s[part]);
      return values.some((v) => v === null) ? null : values.reduce<number>((sum, v) => sum + v!, 0) / values.length;
    };
    const recent: StepTimeSplit | null = this.recentSplits.length
      ? { step: this.recentSplits.at(-1)!.step, compute: mean('compute'), waiting: mean('waiting'), communication: mean('communication')!, update: mean('update')!, total: mean('total')! }
      : null;
    return {
      phase: this.phase,
      position: { ...this.position },
      totals: { ...this.totals },
      checkpointAgeSeconds: Math.round(this.checkpointAgeSeconds()),
      uptimeSeconds: Math.round((performance.now() - this.startedAt) / 1000),
      split: { last: this.recentSplits.at(-1) ?? null, recent },
      workers: this.workers.rows(),
    };
  }

  private start(): void {
    this.started = true;
    if (this.phase === 'waiting') this.phase = 'training';
  }

  /** Adds a row to a series and, when kept, to the next delta (which resyncs instead of growing past the series' size). */
  private record(series: BoundedSeries, pending: SeriesRow[], values: (number | null | undefined)[]): void {
    const row = values.map(compact);
    if (!series.push(row)) return;
    if (pending.length >= series.capacity) this.pending.overflowed = true;
    else pending.push(row);
  }
}

/** Six significant digits are what a chart shows; JSON has no NaN or Infinity. */
function compact(value: number | null | undefined): number | null {
  return value === null || value === undefined || !Number.isFinite(value) ? null : Number(value.toPrecision(6));
}
