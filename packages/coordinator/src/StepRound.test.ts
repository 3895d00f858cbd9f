import { floatBytes, NumericError, ProtocolError } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { bytes, CHUNKS, FakeWorker, reference, result, settled, setUp } from './StepRound.testutil.js';

describe('StepRound', () => {
  it('splits the chunks among the ready workers and completes in any arrival order, bitwise as in chunk order', async () => {
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { server, round } = setUp([a, b]);
    expect(a.given).toEqual([[0, 1]]);
    expect(b.given).toEqual([[2, 3]]);
    for (const [worker, index] of [[b, 3], [a, 1], [b, 2]] as const) round.receive(worker, result(index));
    expect(await settled(round)).toBe(false);
    round.receive(a, result(0));
    expect(await settled(round)).toBe(true);
    expect(round.lossSum()).toBe(0.5 + 1.5 + 2.5 + 3.5);
    expect([...round.metricSums[0]!]).toEqual([0, 1, 2, 3]);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
  });

  it('hands the chunks of a worker that leaves mid-step to the others, and ignores its late answers', async () => {
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { server, round, ready } = setUp([a, b]);
    round.receive(a, result(0));
    ready.splice(ready.indexOf(a), 1);
    expect(round.workerLeft(a)).toBe(1);
    expect(b.given).toEqual([[2, 3], [1]]);
    expect(round.receive(a, result(1))).toBe('not owed');
    for (const index of [1, 2, 3]) expect(round.receive(b, result(index))).toBe('accepted');
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
  });

  it('counts a chunk once: a repeated result, a result for another step or for a chunk not owed is not taken', () => {
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { round } = setUp([a, b]);
    expect(round.receive(a, result(0))).toBe('accepted');
    expect(round.receive(a, result(0))).toBe('not owed');
    expect(round.receive(a, result(2))).toBe('not owed');
    expect(round.receive(b, result(2, 6))).toBe('late');
    expect(round.owedBy(a)).toEqual([1]);
    expect(round.owedBy(b)).toEqual([2, 3]);
    expect(round.lossSums[0]).toBe(0.5);
  });

  it('keeps chunks as orphans while no worker is ready, and hands them to the next one that joins', async () => {
    const { round, ready, starved } = setUp([]);
    expect(starved()).toBe(CHUNKS);
    expect(round.orphanCount).toBe(CHUNKS);
    const late = new FakeWorker('late');
    ready.push(late);
    round.workerJoined();
    expect(late.given).toEqual([[0, 1, 2, 3]]);
    expect(round.orphanCount).toBe(0);
    for (let i = 0; i < CHUNKS; i++) round.receive(late, result(i));
    expect(await settled(round)).toBe(true);
  });

  it('refuses a result with the wrong sample count or a non-finite gradient, naming the worker, and leaves the sums alone', () => {
    const a = new FakeWorker('a');
    const { round, server } = setUp([a]);
    expect(() => round.receive(a, result(0, 7, { samples: 3 }))).toThrow(ProtocolError);
    expect(() => round.receive(a, result(1, 7, { metricSums: [] }))).toThrow(/worker a: chunk 1 has 0 metric sums, expected 1/);
    const nan = () => round.receive(a, result(2, 7, { grads: floatBytes(Float32Array.of(0, Number.NaN, 0)) }));
    expect(nan).toThrow(NumericError);
    expect(nan).toThrow(/chunk 2 from worker a: gradient of dense_1\/kernel\[1\] is NaN/);
    expect(() => round.receive(a, result(3, 7, { lossSum: Number.POSITIVE_INFINITY }))).toThrow(/loss is Infinity/);
    expect(server.has(0) || server.has(1) || server.has(2) || server.has(3)).toBe(false);
    expect(round.owedBy(a)).toEqual([0, 1, 2, 3]);
  });

  it('gives a straggling chunk to an idle worker; the first result wins and the late twin is ignored', async () => {
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { server, round } = setUp([a, b]);
    round.receive(a, result(0));
    round.receive(a, result(1));
    expect(round.duplicateStragglers(60_000)).toEqual([]);
    const made = round.duplicateStragglers(0);
    expect(made.map((d) => [d.index, d.from.name, d.to.name])).toEqual([[2, 'b', 'a']]);
    expect(a.given.at(-1)).toEqual([2]);
    expect(round.outstanding()).toEqual([
      { index: 2, workers: [b, a] },
      { index: 3, workers: [b] },
    ]);
    // a is busy again: nothing more to hand out, and chunk 2 is never duplicated twice.
    expect(round.duplicateStragglers(0)).toEqual([]);
    expect(round.receive(a, result(2))).toBe('accepted');
    expect(round.receive(b, result(2))).toBe('not owed');
    expect(round.receive(b, result(3))).toBe('accepted');
    expect(await settled(round)).toBe(true);
    server.update();
    expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
  });

  it('refuses a NaN or infinite metric sum as E_NUMERIC, naming the metric', () => {
    const a = new FakeWorker('a');
    const { round } = setUp([a]);
    expect(() => round.receive(a, result(1, 7, { metricSums: [Number.NaN] }))).toThrow(/step 7 \(epoch 1, batch 1\), chunk 1 from worker a: metric mae sum is NaN/);
    expect(() => round.receive(a, result(0, 7, { lossSum: Number.NaN }))).toThrow(NumericError);
  });

  describe('with --max-chunk-grad-norm', () => {
    const huge = (index: number) => result(index, 7, { grads: floatBytes(Float32Array.of(3e38, 0, 0)) });

    it('drops a worker whose chunk is beyond the bound; another computes it and the step is as if nothing happened', async () => {
      const a = new FakeWorker('a');
      const b = new FakeWorker('b');
      const { server, round, dropped } = setUp([a, b], { maxChunkGradNorm: 1e9 });
      expect(round.receive(a, huge(0))).toBe('refused');
      expect(dropped).toEqual([{ worker: 'a', reason: expect.stringMatching(/chunk 0: gradient L2 norm 3\.000e\+38 exceeds 1000000000 x 2 samples/), quarantine: false }]);
      expect(b.given).toEqual([[2, 3], [0, 1]]);
      expect(round.receive(a, result(1))).toBe('not owed');
      for (const index of [0, 1, 2, 3]) round.receive(b, result(index));
      expect(await settled(round)).toBe(true);
      server.update();
      expect(bytes(server.params).equals(bytes(reference()))).toBe(true);
    });

    it('treats a NaN like a chunk beyond the bound: it costs the worker, not the job', () => {
      const a = new FakeWorker('a');
      const b = new FakeWorker('b');
      const { round, dropped } = setUp([a, b], { maxChunkGradNorm: 1e9 });
      expect(round.receive(b, result(2, 7, { lossSum: Number.NaN }))).toBe('refused');
      expect(dropped[0]).toMatchObject({ worker: 'b', reason: expect.stringMatching(/chunk 2: loss is NaN$/) });
    });

    it('stops with E_NUMERIC when a second worker confirms it, or when no other worker could', () => {
      const a = new FakeWorker('a');
      const b = new FakeWorker('b');
      const { round } = setUp([a, b], { maxChunkGradNorm: 1e9 });
      round.receive(a, huge(0));
      const confirmed = () => round.receive(b, huge(0));
      expect(confirmed).toThrow(NumericError);
      expect(confirmed).toThrow(/chunk 0 from worker b: gradient L2 norm 3\.000e\+38 .*; from worker a before it: gradient L2 norm .*\. Two workers agree/);
      const alone = setUp([new FakeWorker('c')], { maxChunkGradNorm: 1e9 });
      expect(() => alone.round.receive(alone.ready[0]!, huge(1))).toThrow(/no other worker is ready to compute it again/);
    });
  });

  it('rejects `done` when the round fails', async () => {
    const { round } = setUp([new FakeWorker('a')]);
    round.fail(new ProtocolError('stop'));
    await expect(round.done).rejects.toThrow('stop');
  });
});
