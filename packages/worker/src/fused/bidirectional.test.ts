import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { MERGE_MODES, mulberry32, ShapeError, type BidirectionalLayerSpec, type MergeMode, type ParamEntry } from '@adamant/core';
import { FusedBidirectional, type MakeWrappedLayer } from './bidirectional.js';
import { Scratch, type LayerContext } from './FusedLayer.js';
import { FusedGru } from './gru.js';
import { FusedLstm } from './lstm.js';
import { timeMajor } from './matrix.js';
import type { GemmEngine } from '../gemm/GemmEngine.js';
import { probeGemmEngines } from '../gemm/loadGemmEngine.js';

/** The engine of the suite running now: each engine runs the suite below. */
let gemm: GemmEngine;

const [B, T, F, H] = [3, 5, 4, 6];
/** Unrelated parameters before the layer's, so that its offsets matter. */
const LEAD = 5;

type Inner = 'gru' | 'lstm';

/** Gates per unit: the kernels' columns are gates x H. */
const GATES: Record<Inner, number> = { gru: 3, lstm: 4 };

const bidirectional = (inner: Inner, mergeMode: MergeMode, returnSequences: boolean): BidirectionalLayerSpec => {
  const common = { units: H, returnSequences, activation: 'tanh', recurrentActivation: 'sigmoid' } as const;
  return { type: 'bidirectional', layer: inner === 'gru' ? { type: 'gru', ...common, resetAfter: false } : { type: 'lstm', ...common }, mergeMode };
};

const makeInner: MakeWrappedLayer = (spec, ctx) => (spec.type === 'gru' ? new FusedGru(spec, ctx) : new FusedLstm(spec, ctx));

function uniform(length: number, seed: number, scale = 1): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

/** Both directions' kernel, recurrent kernel and bias, forward first, at their offsets in a flat vector. */
function bidirectionalWeights(inner: Inner) {
  const G = GATES[inner] * H;
  const shapes = [[F, G], [H, G], [G]];
  let offset = LEAD;
  const entries: ParamEntry[] = ['forward', 'backward'].flatMap((direction) =>
    shapes.map((shape, i) => {
      const size = shape.reduce((a, b) => a * b, 1);
      const entry = { name: `bidirectional_1/${direction}_${inner}_1/${['kernel', 'recurrent_kernel', 'bias'][i]}`, shape, offset, size };
      offset += size;
      return entry;
    }),
  );
  const flat = uniform(offset, 7, 0.6);
  return { entries, flat, values: entries.map((e) => flat.slice(e.offset, e.offset + e.size)) };
}

/** tfjs-layers' Bidirectional around its GRU or LSTM: its output and the gradients of sum(output * R) by autodiff. */
function tfjsExpected(spec: BidirectionalLayerSpec, x: Float32Array, R: Float32Array) {
  const { entries, values } = bidirectionalWeights(spec.layer.type);
  const config = { units: H, returnSequences: spec.layer.returnSequences, activation: 'tanh', recurrentActivation: 'sigmoid' } as const;
  const inner = spec.layer.type === 'gru' ? tf.layers.gru(config) : tf.layers.lstm(config);
  const layer = tf.layers.bidirectional({ layer: inner, mergeMode: spec.mergeMode, inputShape: [T, F] });
  const input = tf.variable(tf.tensor3d(x, [B, T, F]));
  try {
    tf.tidy(() => {
      layer.apply(tf.zeros([B, T, F]));
    });
    layer.setWeights(values.map((v, i) => tf.tensor(v, entries[i]!.shape)));
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    return tf.tidy(() => {
      const output = () => layer.apply(input) as tf.Tensor;
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(output(), tf.tensor(R, output().shape))), [input, ...weights]);
      const read = (v: tf.Variable) => grads[v.name]!.dataSync() as Float32Array;
      return { output: output().dataSync() as Float32Array, dInput: read(input), dWeights: weights.map(read) };
    });
  } finally {
    input.dispose();
    layer.dispose();
  }
}

function context(entries: ParamEntry[]): LayerContext {
  return { index: 1, input: { kind: 'sequence', steps: T, width: F }, weights: entries, scratch: new Scratch(), gemm };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, name: string): void {
  expect(actual.length, `${name} length`).toBe(expected.length);
  let worst = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    scale = Math.max(scale, Math.abs(expected[i]!));
    worst = Math.max(worst, Math.abs(actual[i]! - expected[i]!) / Math.max(1, Math.abs(expected[i]!)));
  }
  expect(scale, `${name} is not all zeros`).toBeGreaterThan(0);
  expect(worst, name).toBeLessThanOrEqual(1e-5);
}

const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

for (const { name, engine, unavailable } of probeGemmEngines()) {
  // OpenBLAS is installed here and in CI; elsewhere its suite is skipped, with the reason in its name.
  describe.skipIf(!engine)(`on the ${name} GEMM engine${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
    beforeAll(() => {
      gemm = engine!;
    });

    describe('FusedBidirectional', () => {
      beforeAll(async () => {
        tf.enableProdMode();
        await tf.setBackend('cpu');
      });

      const x = uniform(B * T * F, 1);
      const input = timeMajor(x, B, T, F, new Float32Array(x.length));

      for (const inner of ['gru', 'lstm'] as const) {
        for (const mergeMode of MERGE_MODES) {
          for (const returnSequences of [true, false]) {
            it(`around ${inner}, mergeMode ${mergeMode}, returnSequences ${returnSequences}: output, d input and every weight gradient equal tfjs`, () => {
              const spec = bidirectional(inner, mergeMode, returnSequences);
              const width = mergeMode === 'concat' ? 2 * H : H;
              const R = uniform((returnSequences ? T : 1) * B * width, 4);
              const expected = tfjsExpected(spec, x, R);
              const { entries, flat } = bidirectionalWeights(inner);
              const layer = new FusedBidirectional(spec, context(entries), makeInner);
              expect(layer.output).toEqual(returnSequences ? { kind: 'sequence', steps: T, width } : { kind: 'vector', width });
              layer.setWeights(flat);
              const output = layer.forward(input, B, { training: true, seed: 0 });
              const grads = new Float32Array(flat.length);
              const dInput = layer.backward(returnSequences ? timeMajor(R, B, T, width, new Float32Array(R.length)) : R.slice(), B, grads, true);
              expectClose(output, returnSequences ? timeMajor(expected.output, B, T, width, new Float32Array(R.length)) : expected.output, 'output');
              expectClose(dInput, timeMajor(expected.dInput, B, T, F, new Float32Array(x.length)), 'd input');
              for (const [i, e] of entries.entries()) expectClose(grads.subarray(e.offset, e.offset + e.size), expected.dWeights[i]!, e.name);
              expect([...grads.subarray(0, LEAD)]).toEqual(new Array(LEAD).fill(0));
              layer.dispose();
            });
          }
        }
      }

      it('the same call twice gives the same bits, and leaves no tensors behind', () => {
        const { entries, flat } = bidirectionalWeights('gru');
        const before = tf.memory().numTensors;
        const layer = new FusedBidirectional(bidirectional('gru', 'mul', true), context(entries), makeInner);
        layer.setWeights(flat);
        const held = tf.memory().numTensors;
        const R = uniform(T * B * H, 5);
        const pass = () => {
          const output = layer.forward(input, B, { training: true, seed: 0 }).slice();
          const grads = new Float32Array(flat.length);
          const dInput = layer.backward(R.slice(), B, grads, true).slice();
          return { output, dInput, grads };
        };
        const [first, second] = [pass(), pass()];
        expect(bits(second.output)).toEqual(bits(first.output));
        expect(bits(second.dInput)).toEqual(bits(first.dInput));
        expect(bits(second.grads)).toEqual(bits(first.grads));
        expect(tf.memory().numTensors).toBe(held);
        // Without needInput, the weight gradients are the same and no input gradient is returned.
        layer.forward(input, B, { training: true, seed: 0 });
        const grads = new Float32Array(flat.length);
        expect(layer.backward(R.slice(), B, grads, false).length).toBe(0);
        expect(bits(grads)).toEqual(bits(first.grads));
        layer.dispose();
        expect(tf.memory().numTensors).toBe(before);
      });

      it('refuses an odd weight list and a vector input with a ShapeError', () => {
        const { entries } = bidirectionalWeights('gru');
        const spec = bidirectional('gru', 'sum', true);
        expect(() => new FusedBidirectional(spec, context(entries.slice(0, 5)), makeInner)).toThrow(/layer 1 \(bidirectional\): has 5 weights/);
        expect(() => new FusedBidirectional(spec, { ...context(entries), input: { kind: 'vector', width: F } }, makeInner)).toThrow(ShapeError);
      });
    });
  });
}
