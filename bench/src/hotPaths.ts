import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Adam, mulberry32 } from '@adamant/core';
import { GradientReducer } from '@adamant/coordinator';
import { progress, sideBySide } from './measure.js';
import type { BenchRow } from './results.js';
import { referenceParamCount } from './textModels.js';

const SECTION = 'hot';
const adamDefaults = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };

function randomFloats(n: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = (random() - 0.5) * 1e-2;
  return out;
}

/**
 * Textbook Adam (Kingma & Ba, algorithm 1) in one loop over Float32Arrays, in double precision
 * between loads and stores: what the exact, tfjs-rounded loop is measured against.
 */
function textbookAdam(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array, t: number): void {
  const { learningRate, beta1, beta2, epsilon } = adamDefaults;
  const correction1 = 1 - beta1 ** t;
  const correction2 = 1 - beta2 ** t;
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    const mi = beta1 * m[i]! + (1 - beta1) * gi;
    const vi = beta2 * v[i]! + (1 - beta2) * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = w[i]! - (learningRate * (mi / correction1)) / (Math.sqrt(vi / correction2) + epsilon);
  }
}

/** A pass moving Adam's bytes with no arithmetic to speak of: read g, m, v, w; write m, v, w (28 bytes per parameter). */
function memoryFloor(w: Float32Array, g: Float32Array, m: Float32Array, v: Float32Array): void {
  for (let i = 0; i < w.length; i++) {
    const gi = g[i]!;
    m[i] = m[i]! + gi;
    v[i] = v[i]! + gi;
    w[i] = w[i]! + gi;
  }
}

/** The parameter server's exact Adam against a textbook loop, the memory-traffic floor and tf.train.adam on wasm. */
async function adamRows(size: number): Promise<BenchRow[]> {
  const grads = randomFloats(size, 2);
  const exactParams = randomFloats(size, 1);
  const exact = new Adam(size, adamDefaults);
  const [w, m, v] = [randomFloats(size, 1), new Float32Array(size), new Float32Array(size)];
  const [floorW, floorM, floorV] = [randomFloats(size, 1), new Float32Array(size), new Float32Array(size)];
  let t = 0;
  await tf.setBackend('wasm');
  const variable = tf.variable(tf.tensor1d(exactParams));
  const gradient = tf.tensor1d(grads);
  const tfAdam = tf.train.adam(adamDefaults.learningRate, adamDefaults.beta1, adamDefaults.beta2, adamDefaults.epsilon);
  progress(`Adam over ${size} parameters`);
  const timing = await sideBySide(
    {
      exact: () => exact.apply(exactParams, grads),
      textbook: () => textbookAdam(w, grads, m, v, ++t),
      floor: () => memoryFloor(floorW, grads, floorM, floorV),
      tfjs: () => {
        tfAdam.applyGradients([{ name: variable.name, tensor: gradient }]);
        variable.dataSync();
      },
    },
    { rounds: 7, minMs: 200 },
  );
  tfAdam.dispose();
  variable.dispose();
  gradient.dispose();
  const perParam = (ns: number) => ns / size;
  const exactSide = { label: 'exact Adam (core/optim/adam.ts, tfjs-rounded)', value: perParam(timing.ns.exact), unit: 'ns/param' };
  const sizes = `${size.toLocaleString('en-US')} float32 parameters (the reference model)`;
  return [
    {
      section: SECTION,
      name: "server's exact Adam vs a textbook fused loop",
      sizes,
      a: exactSide,
      b: { label: 'textbook Adam, one loop', value: perParam(timing.ns.textbook), unit: 'ns/param' },
      ratio: timing.ratio('textbook', 'exact'),
      note: 'the price of rounding like tf.train.adam',
    },
    {
      section: SECTION,
      name: "server's exact Adam vs the memory-traffic floor",
      sizes,
      a: exactSide,
      b: { label: 'one pass reading g, m, v, w and writing m, v, w', value: perParam(timing.ns.floor), unit: 'ns/param' },
      ratio: timing.ratio('floor', 'exact'),
      note: '28 bytes per parameter',
    },
    {
      section: SECTION,
      name: "server's exact Adam vs tf.train.adam on wasm",
      sizes,
      a: exactSide,
      b: { label: 'tf.train.adam, wasm, + read back', value: perParam(timing.ns.tfjs), unit: 'ns/param' },
      ratio: timing.ratio('tfjs', 'exact'),
    },
  ];
}

/** The reducer's chunk-ordered sum and mean against one plain pass summing the same chunks. */
async function reduceRow(size: number): Promise<BenchRow> {
  const chunks = 4;
  const chunkGrads = Array.from({ length: chunks }, (_, i) => randomFloats(size, 10 + i));
  const reducer = new GradientReducer(size);
  const sum = new Float32Array(size);
  progress(`reduce of ${chunks} chunks`);
  const timing = await sideBySide(
    {
      reducer: () => {
        reducer.begin(chunks, 64);
        // Reverse arrival: every chunk but the first waits for those before it.
        for (let i = chunks - 1; i >= 0; i--) reducer.add(i, { dense: chunkGrads[i]! });
        reducer.mean();
      },
      plain: () => {
        const [c0, c1, c2, c3] = chunkGrads as [Float32Array, Float32Array, Float32Array, Float32Array];
        for (let i = 0; i < size; i++) sum[i] = (c0[i]! + c1[i]! + c2[i]! + c3[i]!) / 64;
      },
    },
    { rounds: 7, minMs: 200 },
  );
  return {
    section: SECTION,
    name: 'chunk-ordered reduce + mean vs one plain summing pass',
    sizes: `${chunks} dense chunks of ${size.toLocaleString('en-US')} float32, arriving last first`,
    a: { label: 'GradientReducer', value: timing.ns.reducer / size, unit: 'ns/param' },
    b: { label: 'one loop over the 4 arrays', value: timing.ns.plain / size, unit: 'ns/param' },
    ratio: timing.ratio('plain', 'reducer'),
  };
}

/** The parameter server's per-step work, each against its baseline. */
export async function benchHotPaths(): Promise<BenchRow[]> {
  const size = referenceParamCount();
  return [...(await adamRows(size)), await reduceRow(size)];
}
