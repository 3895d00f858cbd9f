import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { Adam, createCodec, floatBytes, mulberry32, readFloats } from '@adamant/core';
import { GradientReducer } from '@adamant/coordinator';
import { heading, nsPerCall, row } from './measure.js';

const adamDefaults = { learningRate: 0.001, beta1: 0.9, beta2: 0.999, epsilon: 1e-7, epsilonInsideSqrt: false, lazyEmbedding: false };

function randomFloats(n: number, seed: number): Float32Array {
  const random = mulberry32(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = random() - 0.5;
  return out;
}

/** The parameter server's per-step work, against what tfjs would do in its place. */
export async function benchHotPaths(size = 1_000_000): Promise<void> {
  heading(`Hot paths of the parameter server (${(size / 1e6).toFixed(1)} M parameters)`);
  const params = randomFloats(size, 1);
  const grads = randomFloats(size, 2);

  const adam = new Adam(size, adamDefaults);
  const flatNs = (await nsPerCall(() => adam.apply(params, grads))) / size;
  row('Adam, flat Float32Array loop (tfjs-exact)', `${flatNs.toFixed(2)} ns/param`);
  const inside = new Adam(size, { ...adamDefaults, epsilonInsideSqrt: true });
  row('Adam, flat loop, epsilon inside sqrt', `${((await nsPerCall(() => inside.apply(params, grads))) / size).toFixed(2)} ns/param`);

  for (const backend of ['wasm', 'cpu'] as const) {
    await tf.setBackend(backend);
    const variable = tf.variable(tf.tensor1d(params));
    const gradient = tf.tensor1d(grads);
    const optimizer = tf.train.adam();
    const tfNs = (await nsPerCall(() => {
      optimizer.applyGradients([{ name: variable.name, tensor: gradient }]);
      variable.dataSync();
    }, { rounds: 3, minMs: 300 })) / size;
    row(`tf.train.adam on ${backend} (+ read back)`, `${tfNs.toFixed(2)} ns/param`, `tfjs / flat loop = ${(tfNs / flatNs).toFixed(2)}`);
    optimizer.dispose();
    variable.dispose();
    gradient.dispose();
  }

  const chunks = 4;
  const chunkGrads = Array.from({ length: chunks }, (_, i) => randomFloats(size, 10 + i));
  const reducer = new GradientReducer(size);
  const reduceNs = (await nsPerCall(() => {
    reducer.begin(chunks, 32);
    for (let i = chunks - 1; i >= 0; i--) reducer.add(i, { dense: chunkGrads[i]! });
    reducer.mean();
  })) / size;
  row(`chunk-ordered reduce of ${chunks} chunks + mean (reverse arrival)`, `${reduceNs.toFixed(2)} ns/param`);

  const codec = createCodec();
  const message = { type: 'chunk' as const, step: 1, index: 0, samples: 8, lossSum: 1, metricSums: [], grads: floatBytes(grads) };
  const encodeNs = await nsPerCall(() => codec.encode(message));
  const frame = codec.encode(message);
  const decodeNs = await nsPerCall(() => {
    const decoded = codec.decodeWorkerMessage(frame, 'bench');
    if (decoded.type === 'chunk' && decoded.grads) readFloats(decoded.grads, size, 'grads', 'bench');
  });
  // bytes per nanosecond = GB/s
  const bytes = size * 4;
  row(`encode a ${(bytes / 1e6).toFixed(0)} MB gradient frame (msgpackr)`, `${(bytes / encodeNs).toFixed(2)} GB/s`, `${(encodeNs / 1e6).toFixed(2)} ms`);
  row('decode + validate + float view of that frame', `${(bytes / decodeNs).toFixed(2)} GB/s`, `${(decodeNs / 1e6).toFixed(3)} ms`);
}
