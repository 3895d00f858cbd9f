import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { StepTimeSplit } from './StepTimeline.js';
import { WORKER_STATES, type WorkerState } from './WorkerTable.js';

/** What the metrics read from the run when scraped (gauges of state rather than of events). */
export interface MetricsSource {
  workerCounts(): Record<WorkerState, number>;
  checkpointAgeSeconds(): number;
}

/** Step durations from a few ms (small models on loopback) to minutes (large ones on slow workers). */
const STEP_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/**
 * The coordinator's Prometheus metrics (`GET /metrics`), on a registry of its own (never prom-client's
 * global one, which an embedder may use), with prom-client's default process and Node.js metrics.
 * Ours are named `adamant_*`; counters grow from events, gauges of state are read when scraped.
 */
export class PrometheusMetrics {
  readonly registry = new Registry();
  private readonly steps: Counter;
  private readonly samples: Counter;
  private readonly chunks: Counter;
  private readonly reassigned: Counter;
  private readonly received: Counter;
  private readonly sent: Counter;
  private readonly loss: Gauge;
  private readonly epochLoss: Gauge<'split'>;
  private readonly epoch: Gauge;
  private readonly stepSeconds: Histogram;
  private readonly stepPartSeconds: Counter<'part'>;

  constructor(source: MetricsSource) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.steps = new Counter({ name: 'adamant_steps_total', help: 'Optimizer steps taken by this coordinator process', registers });
    this.samples = new Counter({ name: 'adamant_samples_total', help: 'Training samples in the steps taken by this coordinator process', registers });
    this.chunks = new Counter({ name: 'adamant_chunk_results_total', help: 'Chunk results received from workers (training and validation)', registers });
    this.reassigned = new Counter({ name: 'adamant_chunks_reassigned_total', help: 'Chunks handed to other workers because their worker left', registers });
    this.received = new Counter({ name: 'adamant_received_bytes_total', help: 'Bytes of WebSocket messages received from workers', registers });
    this.sent = new Counter({ name: 'adamant_sent_bytes_total', help: 'Bytes of WebSocket messages sent to workers', registers });
    this.loss = new Gauge({ name: 'adamant_loss', help: 'Mean loss of the last training batch (before its update)', registers });
    this.epochLoss = new Gauge({ name: 'adamant_epoch_loss', help: 'Loss of the last finished epoch, by split (train, validation)', labelNames: ['split'], registers });
    this.epoch = new Gauge({ name: 'adamant_epoch', help: 'The epoch in progress (1-based); the last one once training is over', registers });
    this.stepSeconds = new Histogram({ name: 'adamant_step_duration_seconds', help: 'Wall time of a step: handing out chunks, gathering them, the update', buckets: STEP_SECONDS_BUCKETS, registers });
    this.stepPartSeconds = new Counter({
      name: 'adamant_step_seconds_total',
      help: 'Step time by part: compute, waiting (for the slowest worker), communication, update (see docs/dashboard.md)',
      labelNames: ['part'],
      registers,
    });
    new Gauge({
      name: 'adamant_workers',
      help: 'Workers by state: joined, ready, gone, quarantined',
      labelNames: ['state'],
      registers,
      collect() {
        const counts = source.workerCounts();
        for (const state of WORKER_STATES) this.set({ state }, counts[state]);
      },
    });
    new Gauge({
      name: 'adamant_checkpoint_age_seconds',
      help: 'Seconds since the last checkpoint was written (since the coordinator started while none has been)',
      registers,
      collect() {
        this.set(source.checkpointAgeSeconds());
      },
    });
  }

  /** The text exposition format, and its content type. */
  async render(): Promise<{ body: string; contentType: string }> {
    return { body: await this.registry.metrics(), contentType: this.registry.contentType };
  }

  step(samples: number, loss: number, epoch: number, stepMs: number, split: StepTimeSplit | undefined): void {
    this.steps.inc();
    this.samples.inc(samples);
    if (Number.isFinite(loss)) this.loss.set(loss);
    this.epoch.set(epoch);
    this.stepSeconds.observe(stepMs / 1000);
    if (!split) return;
    if (split.compute !== null) this.stepPartSeconds.inc({ part: 'compute' }, split.compute / 1000);
    if (split.waiting !== null) this.stepPartSeconds.inc({ part: 'waiting' }, split.waiting / 1000);
    this.stepPartSeconds.inc({ part: 'communication' }, split.communication / 1000);
    this.stepPartSeconds.inc({ part: 'update' }, split.update / 1000);
  }

  epochDone(epoch: number, loss: number, valLoss: number | undefined): void {
    this.epoch.set(epoch);
    this.epochLoss.set({ split: 'train' }, loss);
    if (valLoss !== undefined) this.epochLoss.set({ split: 'validation' }, valLoss);
  }

  chunk(): void {
    this.chunks.inc();
  }

  chunksReassigned(count: number): void {
    this.reassigned.inc(count);
  }

  bytes(received: number, sent: number): void {
    if (received > 0) this.received.inc(received);
    if (sent > 0) this.sent.inc(sent);
  }
}
