import type { Log, LogFields } from '@adamant/core';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { ChunkDeadline } from './ChunkDeadline.js';
import { ChunkLatency } from './ChunkLatency.js';
import { bytes, FakeWorker, reference, result, settled, setUp, STEP } from './StepRound.testutil.js';
import type { StepRound } from './StepRound.js';
import { watchRound } from './watchRound.js';

function recordingLog(): Log & { warnings: { message: string; fields?: LogFields }[] } {
  const warnings: { message: string; fields?: LogFields }[] = [];
  return { warnings, debug: () => {}, info: () => {}, error: () => {}, warn: (message, fields) => warnings.push({ message, ...(fields ? { fields } : {}) }) };
}

describe('watchRound: the chunk deadline', () => {
  beforeEach(() => {
    vi.useFakeTimers();
  });
  afterEach(() => {
    vi.useRealTimers();
  });
  const now = () => Date.now();

  /** A round whose hand-outs and answers keep a ChunkDeadline as the training loop does. */
  function deadlineRound(workers: FakeWorker[], deadline: ChunkDeadline<FakeWorker>) {
    const set = setUp(workers, { now, dispatch: (worker, indices) => {
      worker.given.push(indices);
      deadline.handed(worker, STEP, indices[0]!, now());
    } });
    const answer = (worker: FakeWorker, index: number) => {
      set.round.receive(worker, result(index));
      const next = set.round.owedBy(worker)[0];
      deadline.answered(worker, now(), next === undefined ? undefined : { step: STEP, index: next });
    };
    return { ...set, answer };
  }

  it('drops a worker that holds a chunk past --chunk-timeout, naming it, the step and the chunk; its chunks go to the others', async () => {
    const a = new FakeWorker('a');
    const silent = new FakeWorker('silent');
    const deadline = new ChunkDeadline<FakeWorker>();
    const { server, round, dropped, answer } = deadlineRound([a, silent], deadline);
    const log = recordingLog();
    const stop = watchRound(round, { log, deadline, latency: new ChunkLatency(), duplicateStragglers: false, chunkTimeoutMs: 2000, statusEveryMs: 60_000, now });
    vi.advanceTimersByTime(1500);
    answer(a, 0);
    vi.advanceTimersByTime(1500);
    answer(a, 1);
    // a answered within the deadline each time; silent has held chunk 2 for 3 s.
    expect(dropped).toEqual([{ worker: 'silent', reason: 'held chunk 2 of step 7 for 2 s without an answer, past the 2 s deadline (--chunk-timeout)', quarantine: false }]);
    expect(log.warnings).toEqual([
      { message: 'chunk deadline passed: dropping the worker; its chunks go to the others', fields: { worker: 'silent', step: 7, chunk: 2, heldS: 2, deadlineS: 2 } },
    ]);
    expect(a.given.at(-1)).toEqual([2, 3]);
    answer(a, 2);
    answer(a, 3);
    stop();
    vi.useRealTimers();
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
  });

  it('drops a worker that never answers even when idle workers compute its chunks as stragglers', () => {
    const a = new FakeWorker('a');
    const silent = new FakeWorker('silent');
    const deadline = new ChunkDeadline<FakeWorker>();
    const latency = new ChunkLatency();
    for (let i = 0; i < 8; i++) latency.record(10);
    const watch = (round: StepRound<FakeWorker>) => watchRound(round, { log: recordingLog(), deadline, latency, duplicateStragglers: true, chunkTimeoutMs: 2000, statusEveryMs: 60_000, now });
    // Step 7: a computes its chunks, then silent's too once they straggle (250 ms); the step completes.
    const first = deadlineRound([a, silent], deadline);
    let stop = watch(first.round);
    first.answer(a, 0);
    first.answer(a, 1);
    vi.advanceTimersByTime(300);
    expect(a.given.at(-1)).toEqual([2]);
    first.answer(a, 2);
    vi.advanceTimersByTime(300);
    expect(a.given.at(-1)).toEqual([3]);
    first.answer(a, 3);
    expect(first.round.outstanding()).toEqual([]);
    stop();
    expect(first.dropped).toEqual([]);
    // The next step: silent still has not answered what it was handed 2 s ago.
    const second = deadlineRound([a, silent], deadline);
    stop = watch(second.round);
    second.answer(a, 0);
    second.answer(a, 1);
    vi.advanceTimersByTime(1500);
    stop();
    expect(second.dropped).toEqual([{ worker: 'silent', reason: expect.stringMatching(/^held chunk 2 of step 7 for 2 s without an answer/), quarantine: false }]);
    expect(second.round.outstanding()).toEqual([
      { index: 2, workers: [a] },
      { index: 3, workers: [a] },
    ]);
  });

  it('derives the deadline from measured chunk times when none is given: 10 minutes before the first', () => {
    const a = new FakeWorker('a');
    const deadline = new ChunkDeadline<FakeWorker>();
    const { round, dropped } = deadlineRound([a], deadline);
    const stop = watchRound(round, { log: recordingLog(), deadline, latency: new ChunkLatency(), duplicateStragglers: false, statusEveryMs: 3_600_000, now });
    vi.advanceTimersByTime(599_000);
    expect(dropped).toEqual([]);
    vi.advanceTimersByTime(2_000);
    expect(dropped.map((d) => d.worker)).toEqual(['a']);
    stop();
  });

  it('says now and then which chunks the step still waits for, and from whom', () => {
    const a = new FakeWorker('a');
    const deadline = new ChunkDeadline<FakeWorker>();
    const { round } = deadlineRound([a], deadline);
    const log = recordingLog();
    const stop = watchRound(round, { log, deadline, latency: new ChunkLatency(), duplicateStragglers: false, statusEveryMs: 15_000, now });
    vi.advanceTimersByTime(15_050);
    expect(log.warnings).toEqual([{ message: 'step still waiting for chunks', fields: { step: 7, seconds: 15, chunks: '0 (a); 1 (a); 2 (a); 3 (a)' } }]);
    stop();
  });

  it('says it of a validation round as validation', () => {
    const a = new FakeWorker('a');
    const deadline = new ChunkDeadline<FakeWorker>();
    const { round } = setUp([a], { now, kind: 'evaluate' });
    const log = recordingLog();
    const stop = watchRound(round, { log, deadline, latency: new ChunkLatency(), duplicateStragglers: false, statusEveryMs: 15_000, now });
    vi.advanceTimersByTime(15_050);
    expect(log.warnings.map((w) => w.message)).toEqual(['validation still waiting for chunks']);
    stop();
  });
});
