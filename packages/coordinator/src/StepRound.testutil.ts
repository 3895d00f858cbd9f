import { floatBytes, ParamLayout, type BatchPlan, type ChunkResult, type OptimizerSpec } from '@adamant/core';
import { ParameterServer } from './ParameterServer.js';
import { StepRound, type RoundWorker, type StepRoundOptions } from './StepRound.js';

// Test fixtures for step rounds: a 3-parameter model, a batch of 4 chunks of 2 samples, fake workers.

export const SIZE = 3;
export const CHUNKS = 4;
export const STEP = 7;
export const layout = new ParamLayout([{ name: 'dense_1/kernel', shape: [SIZE], offset: 0, size: SIZE }]);
export const adam: OptimizerSpec = { type: 'adam', learningRate: 0.1, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };
export const plan: BatchPlan = {
  epoch: 0,
  batch: 0,
  size: CHUNKS * 2,
  chunks: Array.from({ length: CHUNKS }, (_, index) => ({ index, rows: Uint32Array.of(2 * index, 2 * index + 1) })),
};

/** Chunk `index`'s gradient sum: values whose float32 sum depends on the order of addition. */
export function gradient(index: number): Float32Array {
  return Float32Array.of([1e8, 1, -1e8, 1][index]!, 0.1 * (index + 1), -3 + index / 7);
}

/** Chunk `index`'s honest result. */
export function result(index: number, step = STEP, overrides: Partial<ChunkResult> = {}): ChunkResult {
  return { type: 'chunk', step, index, samples: 2, lossSum: index + 0.5, metricSums: [index], grads: floatBytes(gradient(index)), ...overrides };
}

/** Chunk `index`'s result with the gradient's sign flipped, as a lying worker would send it. */
export function flipped(index: number, step = STEP): ChunkResult {
  return result(index, step, { grads: floatBytes(gradient(index).map((v) => -v)) });
}

/** Fake sessions: a name, a backend, and the chunks each step message handed them. */
export class FakeWorker implements RoundWorker {
  static nextId = 1;
  readonly id = FakeWorker.nextId++;
  readonly given: number[][] = [];
  constructor(
    readonly name: string,
    readonly backend = 'cpu',
  ) {}
}

/** A started round over a fresh parameter server, with the ready list, drops and starvation recorded. */
export function setUp(initialWorkers: FakeWorker[], extra: Partial<StepRoundOptions<FakeWorker>> = {}) {
  const server = new ParameterServer(layout, undefined, adam, new Float32Array(SIZE).fill(0.5));
  const ready = [...initialWorkers];
  const dropped: { worker: string; reason: string; quarantine: boolean }[] = [];
  let starved = 0;
  const round = new StepRound<FakeWorker>({
    step: STEP,
    plan,
    metricNames: ['mae'],
    sink: server,
    workers: () => ready,
    dispatch: (worker, indices) => worker.given.push(indices),
    drop: (worker, reason, quarantine) => {
      dropped.push({ worker: worker.name, reason, quarantine });
      ready.splice(ready.indexOf(worker), 1);
    },
    starved: (chunks) => {
      starved += chunks;
    },
    ...extra,
  });
  round.start();
  return { server, round, ready, dropped, starved: () => starved };
}

/** The weights after one step that took every chunk once, in chunk order: what every run must match. */
export function reference(): Float32Array {
  const { server, round, ready } = setUp([new FakeWorker('solo')]);
  for (let i = 0; i < CHUNKS; i++) round.receive(ready[0]!, result(i));
  server.update();
  return server.params;
}

/** Whether the round's `done` has resolved (after pending callbacks ran). */
export async function settled(round: StepRound<FakeWorker>): Promise<boolean> {
  let done = false;
  void round.done.then(() => {
    done = true;
  });
  await new Promise((r) => setImmediate(r));
  return done;
}

export const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);
