import { distinctRows, floatBytes, mulberry32, ParamLayout, wordBytes, type BatchPlan, type ChunkResult, type Dataset, type OptimizerSpec } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { type NextStep, ParameterServer } from './ParameterServer.js';

// A table of 40 rows of 3, then two dense weights. Tokens never name rows 35-39, so a step always leaves rows unread.
const table = { rows: 40, dim: 3 };
const layout = new ParamLayout([
  { name: 'embedding_1/embeddings', shape: [40, 3], offset: 0, size: 120 },
  { name: 'lstm_2/kernel', shape: [3, 4], offset: 120, size: 12 },
  { name: 'dense_3/bias', shape: [2], offset: 132, size: 2 },
]);
const FEATURES = 5;
const data: Dataset = (() => {
  const random = mulberry32(99);
  const rows = 30;
  return { rows, featureCount: FEATURES, x: Float32Array.from({ length: rows * FEATURES }, () => Math.floor(random() * 35)), y: new Float32Array(rows) };
})();

const adam = (extra: Partial<Extract<OptimizerSpec, { type: 'adam' }>> = {}): OptimizerSpec => ({
  type: 'adam',
  learningRate: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  epsilon: 1e-7,
  epsilonInsideSqrt: false,
  lazyEmbedding: false,
  ...extra,
});
const cosine: OptimizerSpec['learningRate'] = { schedule: 'cosineDecay', initialLearningRate: 0.001, decaySteps: 20, alpha: 0.1, warmupTarget: 0.02, warmupSteps: 5 };
const specs: [string, OptimizerSpec][] = [
  ['adam', adam()],
  ['adam lazyEmbedding', adam({ lazyEmbedding: true })],
  ['adam globalClipnorm, on a schedule', adam({ globalClipnorm: 0.4, learningRate: cosine })],
  ['adam lazyEmbedding globalClipnorm', adam({ lazyEmbedding: true, globalClipnorm: 0.4 })],
  ['adam clipnorm', adam({ clipnorm: 0.3 })],
  ['adam lazyEmbedding clipvalue', adam({ lazyEmbedding: true, clipvalue: 0.2 })],
  ['adam epsilonInsideSqrt', adam({ epsilonInsideSqrt: true })],
  ['adamw', { type: 'adamw', learningRate: cosine, weightDecay: 0.1, excludeFromWeightDecay: ['bias'], beta1: 0.9, beta2: 0.999, epsilon: 1e-7 }],
  ['sgd with momentum', { type: 'sgd', learningRate: 0.05, momentum: 0.9, nesterov: false }],
  ['sgd with Nesterov momentum, clipnorm', { type: 'sgd', learningRate: cosine, momentum: 0.8, nesterov: true, clipnorm: 0.5 }],
  // Too high a rate for the overflow proof: the careful path runs, whole.
  ['adam on the careful path', adam({ learningRate: 1e36 })],
];

/** A batch of 1-3 chunks of 1-4 random rows of `data`. */
function randomPlan(random: () => number, batch: number): BatchPlan {
  const chunks = Array.from({ length: 1 + Math.floor(random() * 3) }, (_, index) => ({
    index,
    rows: Uint32Array.from({ length: 1 + Math.floor(random() * 4) }, () => Math.floor(random() * data.rows)),
  }));
  return { epoch: 0, batch, size: chunks.reduce((n, c) => n + c.rows.length, 0), chunks };
}

/** Chunk `index`'s token ids: what its rows read of the table. */
function inputsOf(plan: BatchPlan, index: number): Float32Array {
  const rows = plan.chunks[index]!.rows;
  const x = new Float32Array(rows.length * FEATURES);
  for (const [k, row] of rows.entries()) x.set(data.x.subarray(row * FEATURES, (row + 1) * FEATURES), k * FEATURES);
  return x;
}

/** A chunk result as a worker sends it: gradients for the table rows the chunk read, and dense ones. */
function chunkResult(random: () => number, step: number, plan: BatchPlan, index: number): ChunkResult {
  const rows = distinctRows([inputsOf(plan, index)], table.rows);
  const values = Float32Array.from({ length: rows.length * table.dim }, () => (random() - 0.5) * 2);
  const grads = Float32Array.from({ length: layout.size - 120 }, () => (random() - 0.5) * 2);
  return { type: 'chunk', step, index, samples: plan.chunks[index]!.rows.length, lossSum: 0, metricSums: [], grads: floatBytes(grads), sparseRows: wordBytes(rows), sparseValues: floatBytes(values) };
}

const bytes = (x: Uint8Array | Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

function stateBytes(server: ParameterServer): Buffer {
  const { weights, optimizer } = server.snapshot();
  return Buffer.concat([bytes(weights), ...Object.values(optimizer.slots).map(bytes), Buffer.from(`${optimizer.name} ${optimizer.step}`)]);
}

/** What the step after `next` is sent: the dense weights and the table rows its chunks read. */
function nextView(server: ParameterServer, next: NextStep): Buffer {
  const rows = server.tableRowsFor(next.plan.chunks.map((c) => inputsOf(next.plan, c.index)))!;
  return Buffer.concat([bytes(server.denseWeightBytes()), bytes(rows.tableRows), bytes(rows.tableValues)]);
}

describe('a split update', () => {
  for (const [name, spec] of specs) {
    it(`equals the whole update to the bit over many random steps, read between its parts or not (${name})`, () => {
      const random = mulberry32(name.length * 7919);
      const initial = Float32Array.from({ length: layout.size }, () => random() - 0.5);
      const whole = new ParameterServer(layout, table, spec, initial);
      const split = new ParameterServer(layout, table, spec, initial);
      const plans = Array.from({ length: 41 }, (_, batch) => randomPlan(random, batch));
      let splits = 0;
      for (let step = 0; step < 40; step++) {
        const plan = plans[step]!;
        const results = plan.chunks.map((c) => chunkResult(random, step, plan, c.index));
        for (const server of [whole, split]) server.beginStep(plan.chunks.length, plan.size);
        for (const result of results) whole.add(result.index, whole.decode(result, 'test'));
        // Out of order, with slices of the previous step's deferred part between the chunks.
        for (const result of [...results].sort(() => random() - 0.5)) {
          if (random() < 0.5) split.updateSlice();
          split.add(result.index, split.decode(result, 'test'));
        }
        const next = random() < 0.85 ? { plan: plans[step + 1]!, rows: data } : undefined;
        whole.update();
        split.update(next);
        const careful = spec.learningRate === 1e36;
        expect(split.updatePending).toBe(next !== undefined && !careful);
        if (next) {
          expect(nextView(split, next).equals(nextView(whole, next))).toBe(true);
          // The next step's own rows are ready: sending them finished nothing.
          expect(split.updatePending).toBe(!careful);
        }
        if (split.updatePending) splits++;
        const read = random();
        if (read < 0.1) expect(stateBytes(split).equals(stateBytes(whole))).toBe(true);
        else if (read < 0.15) expect(bytes(split.params).equals(bytes(whole.params))).toBe(true);
        else if (read < 0.2) expect(split.learningRate()).toBe(whole.learningRate());
        else if (read < 0.25) expect(split.step).toBe(whole.step);
        if (read < 0.25) expect(split.updatePending).toBe(false);
      }
      expect(stateBytes(split).equals(stateBytes(whole))).toBe(true);
      expect(whole.step).toBe(40);
      if (spec.learningRate !== 1e36) expect(splits).toBeGreaterThan(20);
    });
  }

  it('finishes before a checkpoint, a restore, new weights or rows the next step does not read', () => {
    const random = mulberry32(3);
    const initial = Float32Array.from({ length: layout.size }, () => random() - 0.5);
    const plans = Array.from({ length: 3 }, (_, batch) => randomPlan(random, batch));
    const stepOnce = (server: ParameterServer, next?: NextStep) => {
      server.beginStep(1, plans[0]!.chunks[0]!.rows.length);
      const result = chunkResult(mulberry32(5), 0, plans[0]!, 0);
      server.add(0, server.decode(result, 'test'));
      server.update(next);
    };
    const next = { plan: plans[1]!, rows: data };
    const whole = new ParameterServer(layout, table, adam(), initial);
    stepOnce(whole);
    const reads: [string, (server: ParameterServer) => Buffer][] = [
      ['snapshot', (server) => stateBytes(server)],
      ['a row no chunk of the next step reads', (server) => bytes(server.tableRowsFor([Float32Array.of(37, 38)])!.tableValues)],
      [
        'setWeights',
        (server) => {
          server.setWeights(initial, 'test');
          return stateBytes(server);
        },
      ],
      [
        'restore',
        (server) => {
          server.restore(whole.snapshot());
          return stateBytes(server);
        },
      ],
    ];
    for (const [what, read] of reads) {
      const split = new ParameterServer(layout, table, adam(), initial);
      stepOnce(split, next);
      expect(split.updatePending, what).toBe(true);
      const seen = read(split);
      expect(split.updatePending, what).toBe(false);
      const reference = new ParameterServer(layout, table, adam(), initial);
      stepOnce(reference);
      expect(seen.equals(read(reference)), what).toBe(true);
      expect(stateBytes(split).equals(stateBytes(reference)), what).toBe(true);
    }
  });

  it('finishes in slices, one per turn of the event loop, while the next step sums its chunks', async () => {
    const random = mulberry32(11);
    const initial = Float32Array.from({ length: layout.size }, () => random() - 0.5);
    const plans = Array.from({ length: 2 }, (_, batch) => randomPlan(random, batch));
    const whole = new ParameterServer(layout, table, adam(), initial);
    const split = new ParameterServer(layout, table, adam(), initial);
    const results = plans[0]!.chunks.map((c) => chunkResult(random, 0, plans[0]!, c.index));
    for (const server of [whole, split]) {
      server.beginStep(results.length, plans[0]!.size);
      for (const result of results) server.add(result.index, server.decode(result, 'test'));
    }
    whole.update();
    split.update({ plan: plans[1]!, rows: data });
    split.beginStep(1, 1);
    split.finishUpdateInSlices();
    expect(split.updatePending).toBe(true);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(split.updatePending).toBe(false);
    expect(split.deferredMs).toBeGreaterThan(0);
    expect(stateBytes(split).equals(stateBytes(whole))).toBe(true);
  });
});
