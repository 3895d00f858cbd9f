import { describe, expect, it } from 'vitest';
import { ProtocolError } from '../errors.js';
import { ParamLayout } from '../model/layout.js';
import { thrown } from '../thrown.testutil.js';
import { floatBytes, wordBytes } from './bytes.js';
import { createCodec } from './codec.js';
import {
  checkForwardOnlyResult,
  chunkWeightBytes,
  decodeChunkGradient,
  decodeStepWeights,
  describeNonFinite,
  encodeChunkResult,
  readChunkWeights,
  readTableRows,
  stepTableRows,
} from './payloads.js';
import type { ChunkResult, StepMessage } from './protocol.js';

// A 4 x 2 embedding table, then a dense kernel of 3: small enough to read by eye.
const table = { rows: 4, dim: 2 };
const layout = new ParamLayout([
  { name: 'embedding_1/embeddings', shape: [4, 2], offset: 0, size: 8 },
  { name: 'dense_2/kernel', shape: [3], offset: 8, size: 3 },
]);
const denseOnly = new ParamLayout([{ name: 'dense_1/kernel', shape: [3], offset: 0, size: 3 }]);

const protocolError = (fn: () => unknown): string => thrown(fn, ProtocolError, 'E_PROTOCOL').message;

const chunk = (dense: number[], rows?: number[], values?: number[]): ChunkResult =>
  encodeChunkResult(2, 1, 5, {
    dense: Float32Array.from(dense),
    ...(rows ? { sparse: { rows: Uint32Array.from(rows), values: Float32Array.from(values ?? []) } } : {}),
    lossSum: 1.5,
    metricSums: [0.5],
  });

const step = (dense: number[], rows?: number[], values?: number[]): StepMessage => ({
  type: 'step',
  step: 0,
  weights: floatBytes(Float32Array.from(dense)),
  ...(rows ? { tableRows: wordBytes(Uint32Array.from(rows)), tableValues: floatBytes(Float32Array.from(values ?? [])) } : {}),
  chunks: [],
});

describe('readTableRows', () => {
  it('reads strictly ascending ids below the table size', () => {
    expect(Array.from(readTableRows(wordBytes(Uint32Array.of(0, 2, 3)), table, 'rows', 'w'))).toEqual([0, 2, 3]);
    expect(readTableRows(new Uint8Array(0), table, 'rows', 'w')).toHaveLength(0);
  });

  it('refuses ids out of order, repeated or out of range, naming peer, field, id and position', () => {
    const read = (rows: number[]) => protocolError(() => readTableRows(wordBytes(Uint32Array.from(rows)), table, 'chunk 3 embedding rows', 'worker 1'));
    expect(read([2, 1])).toBe('worker 1: chunk 3 embedding rows must be ascending ids below 4; found 1 at 1');
    expect(read([1, 1])).toBe('worker 1: chunk 3 embedding rows must be ascending ids below 4; found 1 at 1');
    expect(read([0, 4])).toBe('worker 1: chunk 3 embedding rows must be ascending ids below 4; found 4 at 1');
    expect(protocolError(() => readTableRows(new Uint8Array(3), table, 'rows', 'w'))).toMatch(/^w: rows has 3 bytes/);
  });
});

describe('chunk results', () => {
  it('encode and decode back to the same gradient, through the codec', () => {
    const codec = createCodec();
    const message = codec.decodeWorkerMessage(codec.encode(chunk([1, 2, 3], [0, 3], [10, 11, 40, 41])), 'worker 1');
    expect(message).toMatchObject({ type: 'chunk', step: 2, index: 1, samples: 5, lossSum: 1.5, metricSums: [0.5] });
    const part = decodeChunkGradient(message as ChunkResult, layout, table, 'worker 1');
    expect(Array.from(part.dense)).toEqual([1, 2, 3]);
    expect(Array.from(part.sparse!.rows)).toEqual([0, 3]);
    expect(Array.from(part.sparse!.values)).toEqual([10, 11, 40, 41]);
  });

  it('encode without sparse fields when there are no rows', () => {
    const message = chunk([1, 2, 3]);
    expect(Object.keys(message)).toEqual(['type', 'step', 'index', 'samples', 'lossSum', 'metricSums', 'grads']);
    expect(decodeChunkGradient(message, denseOnly, undefined, 'w')).toEqual({ dense: Float32Array.of(1, 2, 3) });
  });

  it('check the lengths and the rows', () => {
    expect(protocolError(() => decodeChunkGradient(chunk([1, 2]), denseOnly, undefined, 'w'))).toBe('w: chunk 1 gradient has 2 values, expected 3');
    expect(protocolError(() => decodeChunkGradient(chunk([1, 2, 3], [0], [1, 1]), denseOnly, undefined, 'w'))).toBe(
      'w: chunk 1 has embedding rows, but the model has no embedding',
    );
    expect(protocolError(() => decodeChunkGradient(chunk([1, 2, 3]), layout, table, 'w'))).toBe('w: chunk 1 lacks the embedding rows');
    expect(protocolError(() => decodeChunkGradient(chunk([1, 2, 3], [0, 1], [1, 1]), layout, table, 'w'))).toBe(
      'w: chunk 1 embedding values has 2 values, expected 4',
    );
    expect(protocolError(() => decodeChunkGradient(chunk([1, 2, 3], [3, 0], [1, 1, 2, 2]), layout, table, 'w'))).toMatch(/found 0 at 1$/);
  });

  it('of a training chunk must carry a gradient; of a forward-only chunk, none', () => {
    const { grads: _, ...statistics } = chunk([1, 2, 3]);
    expect(protocolError(() => decodeChunkGradient(statistics, denseOnly, undefined, 'w'))).toBe(
      'w: chunk 1 of step 2 is a training chunk, but its result has no gradient',
    );
    const forwardOnly = encodeChunkResult(2, 1, 5, { lossSum: 1.5, metricSums: [0.5] });
    expect(forwardOnly).toEqual({ type: 'chunk', step: 2, index: 1, samples: 5, lossSum: 1.5, metricSums: [0.5], evaluate: true });
    expect(() => checkForwardOnlyResult(forwardOnly, 'w')).not.toThrow();
    for (const trained of [chunk([1, 2, 3]), { ...forwardOnly, sparseRows: wordBytes(Uint32Array.of(0)) }]) {
      expect(protocolError(() => checkForwardOnlyResult({ ...trained, evaluate: true }, 'w'))).toBe(
        'w: chunk 1 of step 2 is forward only (evaluate), but its result carries a gradient',
      );
    }
  });

  it('describe the first NaN or infinity by weight name', () => {
    const part = (dense: number[], values: number[]) => ({ dense: Float32Array.from(dense), sparse: { rows: Uint32Array.of(1, 3), values: Float32Array.from(values) } });
    expect(describeNonFinite(part([0, Number.NaN, 0], [0, 0, 0, 0]), layout, table)).toBe('gradient of dense_2/kernel[1] is NaN');
    expect(describeNonFinite(part([0, 0, 0], [0, 0, 0, Number.POSITIVE_INFINITY]), layout, table)).toBe('gradient of embedding_1/embeddings[7] is Infinity');
    expect(describeNonFinite(part([0, 0, 0], [0, 0, 0, 0]), layout, table)).toBeUndefined();
  });
});

describe('steps', () => {
  it('carry the rows some inputs read, and the receiver takes them into its vector', () => {
    const params = Float32Array.from({ length: 11 }, (_, i) => i);
    const rows = stepTableRows([Float32Array.of(3, 0, 3), Float32Array.of(0)], table, params);
    const into = new Float32Array(11).fill(-1);
    const message: StepMessage = { type: 'step', step: 0, weights: floatBytes(params.subarray(8)), ...rows, chunks: [] };
    expect(decodeStepWeights(message, into, table, 'c')).toBe(into);
    expect(Array.from(into)).toEqual([0, 1, -1, -1, -1, -1, 6, 7, 8, 9, 10]);
  });

  it('keep the rows a step does not send', () => {
    const into = new Float32Array(11);
    decodeStepWeights(step([1, 2, 3], [0, 3], [10, 11, 40, 41]), into, table, 'c');
    decodeStepWeights(step([4, 5, 6], [1], [20, 21]), into, table, 'c');
    expect(Array.from(into)).toEqual([10, 11, 20, 21, 0, 0, 40, 41, 4, 5, 6]);
  });

  it('pass a model without an embedding through whole', () => {
    expect(Array.from(decodeStepWeights(step([7, 8, 9]), new Float32Array(3), undefined, 'c'))).toEqual([7, 8, 9]);
  });

  it('refuse bad rows, missing rows and wrong lengths, writing nothing', () => {
    const into = new Float32Array(11);
    expect(protocolError(() => decodeStepWeights(step([1, 2, 3], [4], [1, 1]), into, table, 'c ws://x'))).toBe(
      'c ws://x: embedding rows must be ascending ids below 4; found 4 at 0',
    );
    expect(protocolError(() => decodeStepWeights(step([1, 2, 3], [2, 1], [1, 1, 1, 1]), into, table, 'c'))).toMatch(/found 1 at 1$/);
    expect(protocolError(() => decodeStepWeights(step([1, 2, 3]), into, table, 'c'))).toBe('c: sent a step without the embedding rows');
    expect(protocolError(() => decodeStepWeights(step([1, 2], [0], [1, 1]), into, table, 'c'))).toBe('c: weights has 2 values, expected 3');
    expect(protocolError(() => decodeStepWeights(step([1, 2, 3], [0], [1]), into, table, 'c'))).toBe('c: embedding values has 1 values, expected 2');
    expect(protocolError(() => decodeStepWeights(step([1, 2, 3], [0], [1, 1]), new Float32Array(3), undefined, 'c'))).toBe(
      'c: sent embedding rows, but the model has no embedding',
    );
    expect(Array.from(into)).toEqual(new Array(11).fill(0));
  });
});

describe('ParamLayout.nameAt', () => {
  it('names the weight and element of a flat index', () => {
    expect(layout.nameAt(9)).toBe('dense_2/kernel[1]');
    expect(layout.nameAt(0)).toBe('embedding_1/embeddings[0]');
    expect(layout.nameAt(11)).toBe('parameter 11');
  });
});

describe('chunk sample weights (the w of a step)', () => {
  it('go only when some weight of the chunk is not 1, and come back as sent', () => {
    expect(chunkWeightBytes(undefined)).toBeUndefined();
    expect(chunkWeightBytes(Float32Array.of(1, 1, 1))).toBeUndefined();
    const bytes = chunkWeightBytes(Float32Array.of(1, 0, 2.5))!;
    const codec = createCodec();
    const frame = codec.encode({ ...step([1, 2, 3]), chunks: [{ index: 0, samples: 3, seed: 0, x: new Uint8Array(0), y: floatBytes(new Float32Array(3)), w: bytes }] });
    const sent = (codec.decodeCoordinatorMessage(frame, 'coordinator') as StepMessage).chunks[0]!.w!;
    expect(Array.from(readChunkWeights(sent, 3, 'chunk 0 sample weights', 'coordinator'))).toEqual([1, 0, 2.5]);
  });

  it('are checked on arrival: one per sample, each finite and >= 0, naming the sender', () => {
    const weights = (...w: number[]) => floatBytes(Float32Array.from(w));
    expect(protocolError(() => readChunkWeights(weights(1, 2), 3, 'chunk 4 sample weights', 'coordinator ws://h:1'))).toBe(
      'coordinator ws://h:1: chunk 4 sample weights has 2 values, expected 3',
    );
    expect(protocolError(() => readChunkWeights(weights(1, -1), 2, 'chunk 4 sample weights', 'coordinator'))).toBe(
      'coordinator: chunk 4 sample weights must be finite and >= 0; sample 1 weighs -1',
    );
    expect(protocolError(() => readChunkWeights(weights(Number.NaN), 1, 'w', 'coordinator'))).toBe('coordinator: w must be finite and >= 0; sample 0 weighs NaN');
    expect(protocolError(() => readChunkWeights(weights(Number.POSITIVE_INFINITY), 1, 'w', 'coordinator'))).toMatch(/weighs Infinity$/);
  });
});
