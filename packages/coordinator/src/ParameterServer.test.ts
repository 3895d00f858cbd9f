import { createOptimizer, floatBytes, mulberry32, NumericError, ParamLayout, readFloats, readUint32s, wordBytes, type ChunkResult, type OptimizerSpec } from '@adamant/core';
import { describe, expect, it } from 'vitest';
import { ParameterServer } from './ParameterServer.js';

const layout = new ParamLayout([
  { name: 'embedding_1/embeddings', shape: [4, 2], offset: 0, size: 8 },
  { name: 'dense_2/kernel', shape: [2, 1], offset: 8, size: 2 },
]);
const table = { rows: 4, dim: 2 };
const adam = (lazyEmbedding: boolean): OptimizerSpec => ({ type: 'adam', learningRate: 0.01, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding });

/** One chunk per step: a dense gradient and a few embedding rows, drawn from `random`. */
function chunk(random: () => number, step: number): ChunkResult {
  const rows = step % 2 === 0 ? Uint32Array.of(0, 2) : Uint32Array.of(1);
  const values = Float32Array.from({ length: rows.length * 2 }, () => random() - 0.5);
  return { type: 'chunk', step, index: 0, samples: 1, lossSum: 0, metricSums: [], grads: floatBytes(Float32Array.from({ length: 2 }, () => random() - 0.5)), sparseRows: wordBytes(rows), sparseValues: floatBytes(values) };
}

function train(server: ParameterServer, from: number, to: number): void {
  const random = mulberry32(from + 1);
  for (let step = from; step < to; step++) {
    server.beginStep(1, 1);
    server.add(0, server.decode(chunk(random, step), 'test'));
    server.update();
  }
}

const bytes = (x: Float32Array) => Buffer.from(x.buffer, x.byteOffset, x.byteLength);

describe('ParameterServer', () => {
  for (const lazy of [false, true]) {
    it(`restores a snapshot into a new server that continues bitwise as the original (lazyEmbedding ${lazy})`, () => {
      const initial = Float32Array.from({ length: layout.size }, (_, i) => i / 10);
      const original = new ParameterServer(layout, table, adam(lazy), initial);
      train(original, 0, 3);
      const snapshot = original.snapshot();
      train(original, 3, 6);
      const restored = new ParameterServer(layout, table, adam(lazy), new Float32Array(layout.size));
      restored.restore(snapshot);
      expect(restored.step).toBe(3);
      train(restored, 3, 6);
      expect(bytes(restored.params).equals(bytes(original.params))).toBe(true);
      expect(restored.step).toBe(6);
    });
  }

  it('lazyEmbedding leaves untouched embedding rows as they were; exact Adam moves them by their moments', () => {
    const initial = new Float32Array(layout.size).fill(1);
    const lazy = new ParameterServer(layout, table, adam(true), initial);
    const exact = new ParameterServer(layout, table, adam(false), initial);
    train(lazy, 0, 2);
    train(exact, 0, 2);
    // Row 3 is never touched; row 0 was touched only at step 0.
    expect([...lazy.params.subarray(6, 8)]).toEqual([1, 1]);
    expect([...exact.params.subarray(6, 8)]).toEqual([1, 1]);
    expect(lazy.params[0]).not.toBe(exact.params[0]);
  });

  it('refuses weights of the wrong size or with a NaN, naming the weight', () => {
    const server = new ParameterServer(layout, table, adam(false), new Float32Array(layout.size));
    expect(() => server.setWeights(new Float32Array(3), 'init')).toThrow(/init: has 3 parameters, the model has 10/);
    const bad = new Float32Array(layout.size);
    bad[9] = Number.NaN;
    expect(() => server.setWeights(bad, 'init')).toThrow(/dense_2\/kernel\[1\] is NaN/);
  });

  describe('clipping, schedules and the other optimizers', () => {
    const cosine: OptimizerSpec['learningRate'] = { schedule: 'cosineDecay', initialLearningRate: 0, decaySteps: 6, alpha: 0, warmupTarget: 0.05, warmupSteps: 3 };
    const specs: [string, OptimizerSpec][] = [
      ['adam, clipnorm', { ...adam(false), learningRate: cosine, clipnorm: 0.05 }],
      ['adam lazy, globalClipnorm', { ...adam(true), globalClipnorm: 0.05 }],
      ['adamw, clipvalue', { type: 'adamw', learningRate: cosine, weightDecay: 0.1, excludeFromWeightDecay: ['dense'], beta1: 0.9, beta2: 0.999, epsilon: 1e-7, clipvalue: 0.01 }],
      ['sgd, globalClipnorm', { type: 'sgd', learningRate: cosine, momentum: 0.9, nesterov: true, globalClipnorm: 0.05 }],
    ];

    /** The chunk of `chunk()` as a model without an embedding would send it: one dense gradient. */
    function denseChunk(sparse: ChunkResult): ChunkResult {
      const grads = new Float32Array(layout.size);
      const rows = readUint32s(sparse.sparseRows!, 'rows', 'test');
      const values = readFloats(sparse.sparseValues!, undefined, 'values', 'test');
      for (const [k, row] of rows.entries()) grads.set(values.subarray(k * 2, k * 2 + 2), row * 2);
      grads.set(readFloats(sparse.grads!, 2, 'grads', 'test'), 8);
      return { ...sparse, grads: floatBytes(grads), sparseRows: undefined, sparseValues: undefined };
    }

    for (const [name, spec] of specs) {
      it(`clips an embedding's sparse gradient exactly as its dense form (${name})`, () => {
        const initial = Float32Array.from({ length: layout.size }, (_, i) => (i - 4) / 10);
        const sparse = new ParameterServer(layout, table, spec, initial);
        const dense = new ParameterServer(layout, undefined, spec, initial);
        const unclipped = new ParameterServer(layout, table, { ...spec, clipnorm: undefined, globalClipnorm: undefined, clipvalue: undefined }, initial);
        const random = mulberry32(1);
        for (let step = 0; step < 8; step++) {
          const message = chunk(random, step);
          for (const [server, result] of [[sparse, message], [dense, denseChunk(message)], [unclipped, message]] as const) {
            server.beginStep(1, 1);
            server.add(0, server.decode(result, 'test'));
            server.update();
          }
        }
        if (spec.type === 'adam' && spec.lazyEmbedding) {
          // Lazy Adam skips untouched rows, which a dense model has none of: compare the dense weights only.
          expect(bytes(sparse.params.subarray(8)).equals(bytes(dense.params.subarray(8)))).toBe(true);
        } else expect(bytes(sparse.params).equals(bytes(dense.params))).toBe(true);
        expect(bytes(sparse.params).equals(bytes(unclipped.params))).toBe(false);
      });

      it(`restores a snapshot mid-schedule and continues bitwise (${name})`, () => {
        const initial = Float32Array.from({ length: layout.size }, (_, i) => i / 10);
        const original = new ParameterServer(layout, table, spec, initial);
        train(original, 0, 4);
        const snapshot = original.snapshot();
        const rate = original.learningRate();
        train(original, 4, 9);
        const restored = new ParameterServer(layout, table, spec, new Float32Array(layout.size));
        restored.restore(snapshot);
        expect(restored.learningRate()).toBe(rate);
        train(restored, 4, 9);
        expect(bytes(restored.params).equals(bytes(original.params))).toBe(true);
      });
    }

    it('applies the clipped mean to the optimizer, and reports the learning rate of the step to come', () => {
      const dense = new ParamLayout([{ name: 'dense_1/kernel', shape: [3], offset: 0, size: 3 }]);
      const spec: OptimizerSpec = { type: 'sgd', learningRate: { schedule: 'piecewiseConstantDecay', boundaries: [0], values: [0.5, 0.25] }, momentum: 0, nesterov: false, globalClipnorm: 1 };
      const server = new ParameterServer(dense, undefined, spec, Float32Array.of(1, 1, 1));
      expect(server.learningRate()).toBe(0.5);
      // Two chunks of one sample: the mean is (3, 0, 4), of norm 5, clipped to (0.6, 0, 0.8).
      server.beginStep(2, 2);
      server.add(0, server.decode({ type: 'chunk', step: 0, index: 0, samples: 1, lossSum: 0, metricSums: [], grads: floatBytes(Float32Array.of(6, 0, 0)) }, 'test'));
      server.add(1, server.decode({ type: 'chunk', step: 0, index: 1, samples: 1, lossSum: 0, metricSums: [], grads: floatBytes(Float32Array.of(0, 0, 8)) }, 'test'));
      server.update();
      expect([...server.params]).toEqual([1 - Math.fround(Math.fround(0.6) * 0.5), 1, 1 - Math.fround(Math.fround(0.8) * 0.5)].map(Math.fround));
      expect(server.learningRate()).toBe(0.25);
    });
  });

  describe('never keeps a non-finite weight or moment', () => {
    const dense = new ParamLayout([{ name: 'dense_1/kernel', shape: [3], offset: 0, size: 3 }]);
    const spec = (learningRate: number): OptimizerSpec => ({ ...adam(false), learningRate });
    const chunkOf = (values: number[]): ChunkResult => ({ type: 'chunk', step: 0, index: 0, samples: 1, lossSum: 0, metricSums: [], grads: floatBytes(Float32Array.from(values)) });
    /** One step of `chunks` chunks, one sample each. */
    const step = (server: ParameterServer, chunks: number[][]) => {
      server.beginStep(chunks.length, chunks.length);
      for (const [index, values] of chunks.entries()) server.add(index, server.decode({ ...chunkOf(values), index }, 'test'));
      server.update();
    };
    const stateBytes = (server: ParameterServer) => {
      const { weights, optimizer } = server.snapshot();
      return Buffer.concat([bytes(weights), bytes(optimizer.slots.m!), bytes(optimizer.slots.v!), Buffer.from([optimizer.step])]);
    };

    it('refuses a mean gradient whose float32 sum overflowed, naming the weight; nothing changes', () => {
      const server = new ParameterServer(dense, undefined, spec(0.01), Float32Array.of(1, 2, 3));
      step(server, [[0.1, 0.2, 0.3]]);
      const before = stateBytes(server);
      expect(() => step(server, [[0, 3e38, 0], [0, 3e38, 0]])).toThrow(/^the batch-mean gradient of dense_1\/kernel\[1\] is Infinity \(the chunks' sum overflows float32\); the weights were not updated$/);
      expect(stateBytes(server).equals(before)).toBe(true);
    });

    it('refuses a finite gradient whose square overflows Adam\'s second moment; nothing changes', () => {
      const server = new ParameterServer(dense, undefined, spec(0.01), Float32Array.of(1, 2, 3));
      const before = stateBytes(server);
      expect(() => step(server, [[0, 0, 3e38]])).toThrow(/the update would make the adam v of dense_1\/kernel\[2\] Infinity; the weights and the optimizer state were kept as they were/);
      expect(stateBytes(server).equals(before)).toBe(true);
      expect(server.step).toBe(0);
    });

    it('refuses an update that overflows a weight (a learning rate far too high) and keeps the last good state', () => {
      const server = new ParameterServer(dense, undefined, spec(2e38), Float32Array.of(1, 2, 3));
      step(server, [[1, 1, 1]]);
      expect(server.params[0]).toBeLessThan(-1.9e38);
      const lastGood = stateBytes(server);
      expect(() => step(server, [[1, 1, 1]])).toThrow(NumericError);
      expect(() => step(server, [[1, 1, 1]])).toThrow(/the update would make weight dense_1\/kernel\[0\] -Infinity/);
      expect(stateBytes(server).equals(lastGood)).toBe(true);
    });

    it('refuses an SGD or AdamW update that overflows a weight and keeps the last good state', () => {
      const overflowing: OptimizerSpec[] = [
        { type: 'sgd', learningRate: 2e38, momentum: 0.5, nesterov: false },
        { type: 'adamw', learningRate: 2e38, weightDecay: 0, excludeFromWeightDecay: [], beta1: 0.9, beta2: 0.999, epsilon: 1e-7 },
      ];
      for (const spec of overflowing) {
        const server = new ParameterServer(dense, undefined, spec, Float32Array.of(1, 2, 3));
        step(server, [[1, 1, 1]]);
        const lastGood = server.snapshot();
        expect(() => step(server, [[1, 1, 1]])).toThrow(/the update would make weight dense_1\/kernel\[0\] -Infinity/);
        const now = server.snapshot();
        expect(bytes(now.weights).equals(bytes(lastGood.weights))).toBe(true);
        expect(now.optimizer.step).toBe(1);
      }
    });

    it('changes no bit of a healthy run, on the fast path or the careful one', () => {
      for (const learningRate of [0.01, 1e30]) {
        const server = new ParameterServer(dense, undefined, spec(learningRate), Float32Array.of(1, 2, 3));
        const bare = createOptimizer(spec(learningRate), 3);
        const params = Float32Array.of(1, 2, 3);
        const random = mulberry32(5);
        for (let t = 0; t < 20; t++) {
          const grads = [random() - 0.5, random() - 0.5, random() - 0.5];
          step(server, [grads]);
          bare.apply(params, Float32Array.from(grads));
        }
        expect(bytes(server.params).equals(bytes(params))).toBe(true);
      }
    });
  });
});
