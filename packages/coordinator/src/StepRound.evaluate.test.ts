import { floatBytes, mixSeed, ParamLayout, ProtocolError, readFloats, SEED_PURPOSE, type ChunkResult } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { ParameterServer } from './ParameterServer.js';
import { stepMessage } from './stepMessage.js';
import { StepRound } from './StepRound.js';
import { adam, FakeWorker, plan, result, settled, setUp, STEP } from './StepRound.testutil.js';
import { ForwardOnlySink, Validation } from './Validation.js';
import { Verification } from './Verification.js';

// The forward-only (validation) round: the step round's machinery over a sink that sums no gradient.

/** Chunk `index`'s forward-only result: statistics whose sum depends on the order of addition, no gradient. */
function evaluated(index: number, overrides: Partial<ChunkResult> = {}): ChunkResult {
  return { type: 'chunk', step: STEP, index, evaluate: true, samples: 2, lossSum: [1e16, 1, -1e16, 1][index]!, metricSums: [index + 0.25], ...overrides };
}

/** A started forward-only round over the 4 chunks of 2 samples of the test plan. */
function setUpEvaluation(initialWorkers: FakeWorker[], verification?: Verification<FakeWorker>) {
  const ready = [...initialWorkers];
  const dropped: string[] = [];
  const round = new StepRound<FakeWorker>({
    step: STEP,
    plan,
    kind: 'evaluate',
    metricNames: ['mae'],
    sink: new ForwardOnlySink(),
    workers: () => ready,
    dispatch: (worker, indices) => worker.given.push(indices),
    drop: (worker, reason) => {
      dropped.push(`${worker.name}: ${reason}`);
      ready.splice(ready.indexOf(worker), 1);
    },
    ...(verification ? { verification } : {}),
  });
  round.start();
  return { round, ready, dropped };
}

/** The validation figures of the test plan's 8 rows from a finished round. */
const figures = (round: StepRound<FakeWorker>) => new Validation({ rows: 8, featureCount: 1, x: new Float32Array(8), y: new Float32Array(8) }, { batchSize: 8, chunkSize: 2, metrics: ['mae'] }).figures(round);

/** What the round must give whoever computes what: the chunks taken once each, in chunk order. */
async function undisturbed() {
  const solo = new FakeWorker('solo');
  const { round } = setUpEvaluation([solo]);
  for (let i = 0; i < 4; i++) round.receive(solo, evaluated(i));
  expect(await settled(round)).toBe(true);
  return figures(round);
}

describe('a forward-only round', () => {
  it('splits the chunks among the workers and sums their statistics in chunk order, whatever the arrival order', async () => {
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { round } = setUpEvaluation([a, b]);
    expect([a.given, b.given]).toEqual([[[0, 1]], [[2, 3]]]);
    for (const [worker, index] of [[b, 3], [a, 1], [b, 2]] as const) expect(round.receive(worker, evaluated(index))).toBe('accepted');
    expect(await settled(round)).toBe(false);
    round.receive(a, evaluated(0));
    expect(await settled(round)).toBe(true);
    // Float addition is not associative: the chunk order's sum differs from the arrival order's.
    const inChunkOrder = 1e16 + 1 + -1e16 + 1;
    expect(1 + 1 + -1e16 + 1e16).not.toBe(inChunkOrder);
    expect(figures(round)).toEqual({ valLoss: inChunkOrder / 8, valMetrics: { mae: (0.25 + 1.25 + 2.25 + 3.25) / 8 } });
    expect(figures(round)).toEqual(await undisturbed());
  });

  it('hands the chunks of a worker that leaves mid-validation to the others: the figures are those of an undisturbed round', async () => {
    const a = new FakeWorker('a');
    const b = new FakeWorker('b');
    const { round, ready } = setUpEvaluation([a, b]);
    round.receive(a, evaluated(0));
    ready.splice(ready.indexOf(a), 1);
    expect(round.workerLeft(a)).toBe(1);
    expect(b.given).toEqual([[2, 3], [1]]);
    expect(round.receive(a, evaluated(1))).toBe('not owed');
    for (const index of [3, 1, 2]) round.receive(b, evaluated(index));
    expect(await settled(round)).toBe(true);
    expect(figures(round)).toEqual(await undisturbed());
  });

  it('refuses a forward-only result that carries a gradient: the worker trained instead of evaluating', () => {
    const a = new FakeWorker('a');
    const { round } = setUpEvaluation([a]);
    const withGradient = evaluated(0, { grads: floatBytes(Float32Array.of(1, 2, 3)) });
    expect(() => round.receive(a, withGradient)).toThrow(ProtocolError);
    expect(() => round.receive(a, withGradient)).toThrow('worker a: chunk 0 of step 7 is forward only (evaluate), but its result carries a gradient');
    expect(round.receive(a, evaluated(0))).toBe('accepted');
  });

  it('takes only results of its own kind: a training result of the same step belongs to another round, and the other way round', () => {
    const a = new FakeWorker('a');
    expect(setUpEvaluation([a]).round.receive(a, result(0))).toBe('late');
    const training = setUp([a]).round;
    expect(training.receive(a, evaluated(0))).toBe('late');
    // A training result must carry its gradient.
    const { grads: _, ...noGradient } = result(1);
    expect(() => training.receive(a, noGradient)).toThrow('worker a: chunk 1 of step 7 is a training chunk, but its result has no gradient');
  });

  it('names validation in a non-finite result\'s error, which stops the job like a training chunk\'s', () => {
    const a = new FakeWorker('a');
    const { round } = setUpEvaluation([a]);
    expect(() => round.receive(a, evaluated(2, { lossSum: Number.NaN }))).toThrow(/^validation after epoch 1 \(weights of step 7\), chunk 2 from worker a: loss is NaN/);
  });

  it('with --verify, compares forward-only results to the bit and quarantines the worker two others contradict', async () => {
    const [a, b, c] = [new FakeWorker('a'), new FakeWorker('b'), new FakeWorker('c')];
    const { round, ready, dropped } = setUpEvaluation([a, b], new Verification(1, 42));
    expect([a.given, b.given]).toEqual([[[0, 1, 2, 3]], [[0, 1, 2, 3]]]);
    for (const index of [0, 1, 2, 3]) round.receive(a, evaluated(index));
    for (const index of [1, 2, 3]) expect(round.receive(b, evaluated(index))).toBe('accepted');
    expect(round.receive(b, evaluated(0, { lossSum: 7 }))).toBe('held');
    expect(await settled(round)).toBe(false);
    // No third worker yet: chunk 0 waits for one to decide.
    ready.push(c);
    round.workerJoined();
    expect(c.given).toEqual([[0]]);
    expect(round.receive(c, evaluated(0))).toBe('accepted');
    expect(dropped).toEqual([expect.stringMatching(/^b: validation after epoch 1 \(weights of step 7\), chunk 0: its result differs from those of a and c/)]);
    expect(await settled(round)).toBe(true);
    expect(figures(round)).toEqual(await undisturbed());
  });
});

describe('Validation', () => {
  it('cuts the validation rows, in order, into chunks of 4 x chunkSize rows, whatever the workers', () => {
    const data = { rows: 70, featureCount: 1, x: new Float32Array(70), y: new Float32Array(70) };
    const validation = new Validation(data, { batchSize: 32, metrics: [] });
    expect(validation.chunkRows).toBe(32);
    const { chunks, size, epoch } = validation.plan(3);
    expect({ size, epoch }).toEqual({ size: 70, epoch: 3 });
    expect(chunks.map((c) => [c.index, c.rows[0], c.rows.length])).toEqual([
      [0, 0, 32],
      [1, 32, 32],
      [2, 64, 6],
    ]);
    expect(new Validation(data, { batchSize: 32, chunkSize: 5, metrics: [] }).plan(0).chunks.map((c) => c.rows.length)).toEqual([20, 20, 20, 10]);
  });
});

describe('stepMessage', () => {
  const layout = new ParamLayout([{ name: 'dense_1/kernel', shape: [2], offset: 0, size: 2 }]);
  const server = new ParameterServer(layout, undefined, adam, Float32Array.of(0.5, -2));
  const train = { rows: 8, featureCount: 1, x: Float32Array.from({ length: 8 }, (_, i) => i), y: Float32Array.from({ length: 8 }, (_, i) => 10 + i) };
  const held = { rows: 8, featureCount: 1, x: Float32Array.from({ length: 8 }, (_, i) => 100 + i), y: Float32Array.from({ length: 8 }, (_, i) => i % 2) };
  const floats = (bytes: Uint8Array) => Array.from(readFloats(bytes, undefined, 'test', 'test'));

  it('marks a forward-only message, with the weights of the step and the validation rows, and no dropout seed', () => {
    const message = stepMessage(STEP, plan, [1, 3], held, server, 42, 'evaluate');
    expect(message).toMatchObject({ type: 'step', step: STEP, evaluate: true });
    expect(floats(message.weights)).toEqual([0.5, -2]);
    expect(message.chunks.map((c) => [c.index, c.samples, c.seed, floats(c.x), floats(c.y)])).toEqual([
      [1, 2, 0, [102, 103], [0, 1]],
      [3, 2, 0, [106, 107], [0, 1]],
    ]);
  });

  it('leaves a training message unmarked, with the training rows and each chunk\'s dropout seed', () => {
    const message = stepMessage(STEP, plan, [2], train, server, 42);
    expect('evaluate' in message).toBe(false);
    expect(message.chunks.map((c) => [c.seed, floats(c.x), floats(c.y)])).toEqual([[mixSeed(42, SEED_PURPOSE.dropout, STEP, 2), [4, 5], [14, 15]]]);
  });
});
