import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { buildModel, ParamLayout, mulberry32 } from '@adamant/core';
import { LstmGradients } from '@adamant/worker';
const backend = process.argv[2] || 'wasm'; const B = Number(process.argv[3] || 32);
tf.enableProdMode(); await tf.setBackend(backend);
const job = { layers: [ { type: 'embedding', inputDim: 10000, outputDim: 64, inputLength: 100 },
 { type: 'lstm', units: 128, returnSequences: true, activation: 'tanh', recurrentActivation: 'sigmoid' },
 { type: 'lstm', units: 64, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid' },
 { type: 'dense', units: 1, activation: 'sigmoid', useBias: true } ], loss: 'binaryCrossentropy', metrics: ['accuracy'], backend, seed: 1, inputShape: [100], paramCount: 0 };
const m = buildModel(job.layers, 1); const layout = ParamLayout.fromModel(m); const w = layout.read(m); job.paramCount = layout.size;
const g = new LstmGradients(job, backend); g.setWeights(w);
const r = mulberry32(1); const x = Float32Array.from({length: B*100}, () => Math.floor(r()*10000)); const y = Float32Array.from({length: B}, () => r() < 0.5 ? 0 : 1);
g.compute(x, y, B, 0);
const n = 5; const t = performance.now(); for (let i = 0; i < n; i++) g.compute(x, y, B, 0); const ms = (performance.now() - t) / n;
console.log(backend, 'B', B, ms.toFixed(1), 'ms/chunk', Math.round(B*100/ms*1000), 'tokens/s');
