import { parseJobConfig, type ChunkResult } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { EpochReport, StepReport } from '../reports.js';
import type { WorkerSession } from '../workerSession.js';
import { RunMonitor, type RunMonitorOptions } from './RunMonitor.js';

const config = parseJobConfig(
  { model: [{ type: 'dense', units: 1 }], loss: 'meanSquaredError', metrics: ['mae'], batchSize: 8, epochs: 2, data: { path: 'x.csv', features: ['a'], target: 'b' } },
  'job.json',
);

function monitor(overrides: Partial<RunMonitorOptions> = {}) {
  const quarantined: string[] = [];
  const run = new RunMonitor({ config, jobId: 'job-a', minWorkers: 2, dashboard: false, quarantined: () => quarantined, lastCheckpoint: () => undefined, ...overrides });
  return { run, quarantined };
}

let nextId = 1;
/** A session as the worker server hands it over; the monitor never touches its socket. */
function session(name: string, backend = 'cpu'): WorkerSession {
  const id = nextId++;
  return { id, name: `${name} (127.0.0.1:${4000 + id})`, socket: {} as WebSocket, state: 'ready', backend, heardAt: performance.now() };
}

function join(run: RunMonitor, s: WorkerSession): void {
  run.joined(s, `127.0.0.1:${4000 + s.id}`);
  run.ready(s);
}

function stepReport(step: number, overrides: Partial<StepReport> = {}): StepReport {
  return { epoch: 0, batch: step - 1, batches: 10, step, samples: 8, loss: 1 / step, epochLoss: 2 / step, epochMetrics: { mae: 0.5 }, stepMs: 40, ...overrides };
}

const chunk = (step: number, index: number, computeMs?: number): ChunkResult => ({
  type: 'chunk',
  step,
  index,
  samples: 2,
  lossSum: 1,
  metricSums: [1],
  ...(computeMs !== undefined ? { computeMs } : {}),
});

describe('RunMonitor', () => {
  it('is ready once minWorkers are ready, then while one is, and never once the job is over', () => {
    const { run } = monitor();
    expect(run.readiness()).toMatchObject({ ready: false, reason: 'waiting for workers: 0 of 2 ready', phase: 'waiting' });
    const a = session('host:1');
    const b = session('host:2');
    join(run, a);
    expect(run.readiness()).toMatchObject({ ready: false, reason: 'waiting for workers: 1 of 2 ready' });
    join(run, b);
    expect(run.readiness()).toMatchObject({ ready: true, phase: 'training', neededWorkers: 1 });
    run.left(a, 'connection closed', false);
    expect(run.readiness()).toMatchObject({ ready: true, readyWorkers: 1 });
    run.left(b, 'connection closed', false);
    expect(run.readiness()).toMatchObject({ ready: false, reason: 'waiting for workers: 0 of 1 ready' });
    run.ended('finished');
    run.ended('closed');
    expect(run.readiness()).toMatchObject({ ready: false, reason: 'training is over (finished)', phase: 'finished' });
  });

  it('keeps one row per worker: states, chunks, failures, reassigned chunks, and quarantine', () => {
    const { run, quarantined } = monitor({ minWorkers: 1 });
    const a = session('alpha:10');
    const b = session('beta:20', 'wasm');
    join(run, a);
    run.joined(b, '10.0.0.2:5000');
    expect(run.snapshot().workers.map((w) => [w.name, w.state])).toEqual([
      ['alpha:10', 'ready'],
      ['beta:20', 'joined'],
    ]);
    run.ready(b);
    run.chunk(a, chunk(0, 0, 5));
    run.chunk(a, chunk(0, 1, 5));
    run.traffic(a, 100, 2000);
    // As the coordinator tells it: the departure first, then how many of its chunks went to others.
    run.left(a, 'connection closed (code 1006)', false);
    run.reassigned(a, 2);
    quarantined.push(b.name);
    run.left(b, 'quarantined', false);
    const [alpha, beta] = run.snapshot().workers;
    expect(alpha).toMatchObject({ id: a.id, state: 'gone', chunks: 2, failures: 1, reassigned: 2, reason: 'connection closed (code 1006)', bytesIn: 100, bytesOut: 2000 });
    expect(beta).toMatchObject({ state: 'quarantined', backend: 'wasm' });
    // The same worker (its hello name) back on a new connection: its row, a new session id, its history kept.
    const again = session('alpha:10');
    join(run, again);
    const rows = run.snapshot().workers;
    expect(rows).toHaveLength(2);
    expect(rows[0]).toMatchObject({ id: again.id, state: 'ready', chunks: 2, failures: 1, reason: null });
    expect(run.snapshot().totals).toMatchObject({ chunks: 2, chunksReassigned: 2, bytesIn: 100, bytesOut: 2000 });
  });

  it('a session that ends after the job finished is gone, not failed', () => {
    const { run } = monitor({ minWorkers: 1 });
    const a = session('alpha:11');
    join(run, a);
    run.ended('finished');
    run.left(a, 'done', true);
    expect(run.snapshot().workers[0]).toMatchObject({ state: 'gone', failures: 0 });
  });

  it('records steps and epochs, hands each new row to one delta, and asks for a snapshot when a delta would grow past a series', () => {
    const { run } = monitor({ minWorkers: 1, seriesCapacity: 4 });
    run.step(stepReport(1));
    run.step(stepReport(2));
    const epoch: EpochReport = { epoch: 1, epochs: 2, loss: 0.5, metrics: { mae: 0.25 }, seconds: 1, learningRate: 0.001, samplesPerSecond: 16 };
    run.epoch(epoch);
    const delta = run.takeDelta();
    if (delta === 'resync') throw new Error('expected a delta');
    expect(delta.steps).toEqual([
      [1, 1, 2, 0.5],
      [2, 0.5, 1, 0.5],
    ]);
    expect(delta.epochs).toEqual([[1, 0.5, 0.25, null, null]]);
    expect(delta.totals).toMatchObject({ steps: 2, samples: 16 });
    expect(delta.position).toMatchObject({ epoch: 1, step: 2, batch: 2, batches: 10 });
    const next = run.takeDelta();
    expect(next !== 'resync' && next.steps).toEqual([]);
    for (let step = 3; step <= 40; step++) run.step(stepReport(step));
    expect(run.takeDelta()).toBe('resync');
    expect(run.snapshot().steps.length).toBeLessThanOrEqual(4);
    expect(run.snapshot().job.stepColumns).toEqual(['step', 'loss', 'epoch_loss', 'mae']);
  });

  it('splits each step\'s time from the workers\' compute times; the parts add up to the step', () => {
    const { run } = monitor({ minWorkers: 1 });
    const a = session('alpha:12');
    const b = session('beta:22');
    join(run, a);
    join(run, b);
    run.chunk(a, chunk(0, 0, 6));
    run.chunk(b, chunk(0, 1, 9));
    // A validation result shares the next step's number: it is no part of a step's time.
    run.chunk(b, chunk(0, 2, 500));
    run.chunk(b, { ...chunk(1, 0, 1000), evaluate: true });
    run.step(stepReport(1, { stepMs: 30 }));
    const { last } = run.snapshot().split;
    expect(last).not.toBeNull();
    expect(last!.compute! + last!.waiting! + last!.communication + last!.update).toBeCloseTo(30, 6);
    expect(last!.total).toBeCloseTo(30, 6);
    expect(run.snapshot().splits).toHaveLength(1);
  });

  it('counts in Prometheus what it records', async () => {
    const { run } = monitor({ minWorkers: 1 });
    const a = session('alpha:13');
    join(run, a);
    run.traffic(a, 10, 20);
    run.step(stepReport(1));
    run.step(stepReport(2, { samples: 3 }));
    const { body, contentType } = await run.metrics!.render();
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    const value = (name: string) => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(body)?.[1]);
    expect(value('adamant_steps_total')).toBe(2);
    expect(value('adamant_samples_total')).toBe(11);
    expect(value('adamant_received_bytes_total')).toBe(10);
    expect(value('adamant_sent_bytes_total')).toBe(20);
    expect(value('adamant_step_duration_seconds_count')).toBe(2);
    expect(value('adamant_workers\\{state="ready"\\}')).toBe(1);
    expect(body).toMatch(/^process_cpu_seconds_total /m);
    expect(monitor({ metrics: false }).run.metrics).toBeUndefined();
  });
});
