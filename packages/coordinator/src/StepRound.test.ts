import { floatBytes, NumericError, ParamLayout, ProtocolError, type BatchPlan, type ChunkResult, type OptimizerSpec } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { ParameterServer } from './ParameterServer.js';
import { StepRound, type RoundWorker } from './StepRound.js';

const SIZE = 3;
const layout = new ParamLayout([{ name: 'dense_1/kernel', shape: [SIZE], offset: 0, size: SIZE }]);
const adam: OptimizerSpec = { type: 'adam', learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };
const CHUNKS = 4;
const plan: BatchPlan = {
  epoch: 0,
  batch: 0,
  size: CHUNKS * 2,
  chunks: Array.from({ length: CHUNKS }, (_, index) => ({ index, rows: Uint32Array.of(2 * index, 2 * index + 1) })),
};

/** Chunk `index`'s gradient sum: values whose float32 sum depends on the order of addition. */
function gradient(index: number): Float32Array {
  return Float32Array.of([1e8, 1, -1e8, 1][index]!, 0.1 * (index + 1), -3 + index / 7);
}

function result(index: number, step = 7, overrides: Partial<ChunkResult> = {}): ChunkResult {
  return { type: 'chunk', step, index, samples: 2, lossSum: index + 0.5, metricSums: [index], grads: floatBytes(gradient(index)), ...overrides };
}

/** Fake sessions: a name, and the chunks each step message handed them. */
class FakeWorker implements RoundWorker {
  static nextId = 1;
  readonly id = FakeWorker.nextId++;
  readonly given: number[][] = [];
  constructor(readonly name: string) {}
}

function setUp(initialWorkers: FakeWorker[]) {
  const server = new ParameterServer(layout, undefined, adam, new Float32Array(SIZE).fill(0.5));
  const ready = [...initialWorkers];
  let starved = 0;
  const round = new StepRound<FakeWorker>({
    step: 7,
    plan,
    metricCount: 1,
    sink: server,
    workers: () => ready,
    dispatch: (worker, indices) => worker.given.push(indices),
    starved: (chunks) => {
      starved += chunks;
    },
  });
  round.start();
  return { server, round, ready, starved: () => starved };
}

/** The weights after one step that took every chunk in chunk order. */
function reference(): Float32Array {
  const { server, round, ready } = setUp([new FakeWorker('solo')]);
  for (let i = 0; i < CHUNKS; i++) expect(round.receive(ready[0]!, result(i))).toBe('accepted');
  server.update();
  return server.params;
}

const settled = async (round: StepRound<FakeWorker>) => {
  let done = false;
  void round.done.then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  return done;
};

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
    expect(Buffer.from(server.params.buffer).equals(Buffer.from(reference().buffer))).toBe(true);
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
    expect(Buffer.from(server.params.buffer).equals(Buffer.from(reference().buffer))).toBe(true);
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
      { index: 2, workers: [a, b] },
      { index: 3, workers: [b] },
    ]);
    // a is busy again: nothing more to hand out, and chunk 2 is never duplicated twice.
    expect(round.duplicateStragglers(0)).toEqual([]);
    expect(round.receive(a, result(2))).toBe('accepted');
    expect(round.receive(b, result(2))).toBe('not owed');
    expect(round.receive(b, result(3))).toBe('accepted');
    expect(await settled(round)).toBe(true);
    server.update();
    expect(Buffer.from(server.params.buffer).equals(Buffer.from(reference().buffer))).toBe(true);
  });

  it('rejects `done` when the round fails', async () => {
    const { round } = setUp([new FakeWorker('a')]);
    round.fail(new ProtocolError('stop'));
    await expect(round.done).rejects.toThrow('stop');
  });
});
