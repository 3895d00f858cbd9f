import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { mulberry32, ShapeError, type LayerSpec, type ParamEntry } from '@adamant/core';
import { timeMajor } from './matrix.js';
import { Scratch } from './FusedLayer.js';
import { FusedGru } from './gru.js';
import type { GemmEngine } from '../gemm/GemmEngine.js';
import { probeGemmEngines } from '../gemm/loadGemmEngine.js';

/** The engine of the suite running now: each engine runs the suite below. */
let gemm: GemmEngine;

type GruSpec = Extract<LayerSpec, { type: 'gru' }>;

const [B, T, F, H] = [3, 5, 4, 6];
/** Unrelated parameters before and after the layer's, so that its offsets matter. */
const [LEAD, TAIL] = [5, 3];

const gru = (resetAfter: boolean, returnSequences: boolean): GruSpec => ({
  type: 'gru',
  units: H,
  returnSequences,
  activation: 'tanh',
  recurrentActivation: 'sigmoid',
  resetAfter,
});

function uniform(length: number, seed: number, scale = 1): Float32Array {
  const random = mulberry32(seed);
  return Float32Array.from({ length }, () => (random() * 2 - 1) * scale);
}

/** The GRU's weights (kernel, recurrent kernel, bias) at their offsets in a flat vector. */
function gruWeights(resetAfter: boolean) {
  const shapes = [[F, 3 * H], [H, 3 * H], resetAfter ? [2, 3 * H] : [3 * H]];
  let offset = LEAD;
  const entries: ParamEntry[] = shapes.map((shape, i) => {
    const size = shape.reduce((a, b) => a * b, 1);
    const entry = { name: `gru_1/${['kernel', 'recurrent_kernel', 'bias'][i]}`, shape, offset, size };
    offset += size;
    return entry;
  });
  const flat = uniform(offset + TAIL, 7, 0.6);
  const values = entries.map((e) => flat.slice(e.offset, e.offset + e.size));
  return { entries, flat, values };
}

/**
 * Keras's GRU (either resetAfter) written in tfjs ops, which tfjs differentiates: tfjs-layers'
 * own GRUCell refuses resetAfter true, so this reference is itself checked against it for false.
 */
function referenceGru(x: tf.Tensor3D, kernel: tf.Tensor, recurrent: tf.Tensor, bias: tf.Tensor, resetAfter: boolean, returnSequences: boolean): tf.Tensor {
  const [inputBias, recurrentBias] = resetAfter ? tf.split(bias.reshape([2, 3 * H]), 2, 0).map((b) => b.reshape([3 * H])) : [bias, tf.zeros([3 * H])];
  const [recurrentGates, recurrentCandidate] = tf.split(recurrent, [2 * H, H], 1);
  let h: tf.Tensor = tf.zeros([B, H]);
  const outputs: tf.Tensor[] = [];
  for (const xt of tf.unstack(x, 1)) {
    const [xz, xr, xh] = tf.split(tf.add(tf.matMul(xt, kernel as tf.Tensor2D), inputBias!), 3, 1);
    const [hz, hr] = tf.split(tf.add(tf.matMul(h as tf.Tensor2D, recurrentGates!), recurrentBias!.slice(0, 2 * H)), 2, 1);
    const z = tf.sigmoid(tf.add(xz!, hz!));
    const r = tf.sigmoid(tf.add(xr!, hr!));
    const candidate = resetAfter
      ? tf.mul(r, tf.add(tf.matMul(h as tf.Tensor2D, recurrentCandidate!), recurrentBias!.slice(2 * H)))
      : tf.matMul(tf.mul(r, h) as tf.Tensor2D, recurrentCandidate!);
    const hh = tf.tanh(tf.add(xh!, candidate));
    h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh));
    outputs.push(h);
  }
  return returnSequences ? tf.stack(outputs, 1) : h;
}

interface Expected {
  output: Float32Array;
  dInput: Float32Array;
  dWeights: Float32Array[];
}

/** `output(x)` and the gradients of sum(output * R) with respect to x and each of `weights`, by tfjs autodiff. */
function expectedOf(output: (x: tf.Tensor3D) => tf.Tensor, weights: tf.Variable[], x: Float32Array, R: Float32Array): Expected {
  const input = tf.variable(tf.tensor3d(x, [B, T, F]));
  try {
    return tf.tidy(() => {
      const { grads } = tf.variableGrads(() => tf.sum(tf.mul(output(input), tf.tensor(R, output(input).shape))), [input, ...weights]);
      const values = (v: tf.Variable) => grads[v.name]!.dataSync() as Float32Array;
      return { output: output(input).dataSync() as Float32Array, dInput: values(input), dWeights: weights.map(values) };
    });
  } finally {
    input.dispose();
  }
}

/** The reference GRU over weight variables holding `values`. */
function referenceExpected(values: Float32Array[], shapes: number[][], resetAfter: boolean, returnSequences: boolean, x: Float32Array, R: Float32Array): Expected {
  const weights = values.map((v, i) => tf.variable(tf.tensor(v, shapes[i])));
  try {
    return expectedOf((input) => referenceGru(input, weights[0]!, weights[1]!, weights[2]!, resetAfter, returnSequences), weights, x, R);
  } finally {
    for (const w of weights) w.dispose();
  }
}

/** tfjs-layers' own GRU (it has resetAfter false only) with the given weights. */
function layerExpected(values: Float32Array[], shapes: number[][], returnSequences: boolean, x: Float32Array, R: Float32Array): Expected {
  const layer = tf.layers.gru({ units: H, returnSequences, activation: 'tanh', recurrentActivation: 'sigmoid', inputShape: [T, F] });
  try {
    tf.tidy(() => {
      layer.apply(tf.zeros([B, T, F]));
    });
    layer.setWeights(values.map((v, i) => tf.tensor(v, shapes[i])));
    const weights = layer.trainableWeights.map((w) => w.read() as tf.Variable);
    return expectedOf((input) => layer.apply(input) as tf.Tensor, weights, x, R);
  } finally {
    layer.dispose();
  }
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

function runFused(spec: GruSpec, x: Float32Array, R: Float32Array) {
  const { entries, flat } = gruWeights(spec.resetAfter);
  const layer = new FusedGru(spec, { index: 2, input: { kind: 'sequence', steps: T, width: F }, weights: entries, scratch: new Scratch(), gemm });
  layer.setWeights(flat);
  const output = layer.forward(timeMajor(x, B, T, F, new Float32Array(x.length)), B, { training: true, seed: 0 }).slice();
  const dOutput = spec.returnSequences ? timeMajor(R, B, T, H, new Float32Array(R.length)) : R.slice();
  const grads = new Float32Array(flat.length);
  const dInput = layer.backward(dOutput, B, grads, true).slice();
  layer.dispose();
  return { entries, output, dInput, grads };
}

for (const { name, engine, unavailable } of probeGemmEngines()) {
  // OpenBLAS is installed here and in CI; elsewhere its suite is skipped, with the reason in its name.
  describe.skipIf(!engine)(`on the ${name} GEMM engine${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
    beforeAll(() => {
      gemm = engine!;
    });

    describe('FusedGru', () => {
      beforeAll(async () => {
        tf.enableProdMode();
        await tf.setBackend('cpu');
      });

      const x = uniform(B * T * F, 1);
      const shapes = (resetAfter: boolean) => gruWeights(resetAfter).entries.map((e) => e.shape);

      it('the op-level reference equals tfjs-layers GRU (resetAfter false), output and gradients', () => {
        const R = uniform(B * T * H, 3);
        const { values } = gruWeights(false);
        const reference = referenceExpected(values, shapes(false), false, true, x, R);
        const layer = layerExpected(values, shapes(false), true, x, R);
        expectClose(reference.output, layer.output, 'output');
        expectClose(reference.dInput, layer.dInput, 'd input');
        for (const [i, d] of reference.dWeights.entries()) expectClose(d, layer.dWeights[i]!, `weight ${i}`);
      });

      for (const resetAfter of [false, true]) {
        for (const returnSequences of [true, false]) {
          const against = resetAfter ? 'the op-level reference (tfjs-layers has no resetAfter)' : 'tfjs-layers GRU';
          it(`resetAfter ${resetAfter}, returnSequences ${returnSequences}: output, d input and every weight gradient equal ${against}`, () => {
            const R = uniform((returnSequences ? T : 1) * B * H, 4);
            const { values } = gruWeights(resetAfter);
            const expected = resetAfter
              ? referenceExpected(values, shapes(true), true, returnSequences, x, R)
              : layerExpected(values, shapes(false), returnSequences, x, R);
            const actual = runFused(gru(resetAfter, returnSequences), x, R);
            expectClose(actual.output, returnSequences ? timeMajor(expected.output, B, T, H, new Float32Array(expected.output.length)) : expected.output, 'output');
            expectClose(actual.dInput, timeMajor(expected.dInput, B, T, F, new Float32Array(x.length)), 'd input');
            for (const [i, e] of actual.entries.entries()) expectClose(actual.grads.subarray(e.offset, e.offset + e.size), expected.dWeights[i]!, e.name);
            // Nothing outside the layer's own weights is touched.
            expect([...actual.grads.subarray(0, LEAD), ...actual.grads.subarray(actual.grads.length - TAIL)]).toEqual(new Array(LEAD + TAIL).fill(0));
          });
        }
      }

      const bits = (a: Float32Array) => [...new Uint32Array(a.buffer, a.byteOffset, a.length)];

      for (const resetAfter of [false, true]) {
        it(`resetAfter ${resetAfter}: the same call twice gives the same bits, backward adds into grads, inference matches, no tensor leaks`, () => {
          const { entries, flat } = gruWeights(resetAfter);
          const before = tf.memory().numTensors;
          const layer = new FusedGru(gru(resetAfter, true), { index: 0, input: { kind: 'sequence', steps: T, width: F }, weights: entries, scratch: new Scratch(), gemm });
          layer.setWeights(flat);
          const held = tf.memory().numTensors;
          const input = timeMajor(x, B, T, F, new Float32Array(x.length));
          const R = uniform(T * B * H, 5);
          const pass = (grads = new Float32Array(flat.length)) => {
            const output = layer.forward(input, B, { training: true, seed: 0 }).slice();
            const dInput = layer.backward(R.slice(), B, grads, true).slice();
            return { output, dInput, grads };
          };
          const first = pass();
          const second = pass();
          expect(bits(second.output)).toEqual(bits(first.output));
          expect(bits(second.dInput)).toEqual(bits(first.dInput));
          expect(bits(second.grads)).toEqual(bits(first.grads));
          expect(tf.memory().numTensors).toBe(held);
          // Backward adds: a second pass into the same vector doubles it, exactly.
          const doubled = pass(first.grads.slice()).grads;
          expect(bits(doubled)).toEqual(bits(first.grads.map((g) => g * 2)));
          // Inference gives the training forward's bits and keeps no tape.
          expect(bits(layer.forward(input, B, { training: false, seed: 0 }))).toEqual(bits(first.output));
          expect(() => layer.backward(R.slice(), B, new Float32Array(flat.length), false)).toThrow(ShapeError);
          layer.dispose();
          expect(tf.memory().numTensors).toBe(before);
        });
      }

      it('refuses what it does not implement with a ShapeError naming the layer', () => {
        const { entries } = gruWeights(false);
        const ctx = { index: 4, input: { kind: 'sequence', steps: T, width: F } as const, weights: entries, scratch: new Scratch(), gemm };
        expect(() => new FusedGru({ ...gru(false, true), activation: 'relu' }, ctx)).toThrow(/layer 4 \(gru\).*activation tanh, not relu/);
        expect(() => new FusedGru({ ...gru(false, true), recurrentActivation: 'tanh' }, ctx)).toThrow(ShapeError);
        // resetAfter true needs a [2, 3H] bias; these weights have [3H].
        expect(() => new FusedGru(gru(true, true), ctx)).toThrow(/gru_1\/bias \(bias\) has 18 values, expected 36/);
        expect(() => new FusedGru(gru(false, true), { ...ctx, input: { kind: 'vector', width: F } })).toThrow(ShapeError);
      });
    });
  });
}
