import { createInterface } from 'node:readline';
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { CHUNK, fusedTrainer, REFERENCE, referenceLayers } from './textModels.js';

/**
 * One process of the workers section's compute-ceiling row: `steps` fused training steps of the
 * reference model, `chunks` chunks of 32 samples each, on the engine a worker picks by default.
 * It builds and warms up, prints "ready", waits for "go" on stdin (so that two such processes
 * start their timed steps together), then prints the milliseconds the steps took.
 */
const [chunks, steps] = process.argv.slice(2).map(Number) as [number, number];
await tf.setBackend('wasm');
const shape = { ...REFERENCE, batch: CHUNK * chunks };
const trainer = fusedTrainer(shape, referenceLayers(shape));
trainer.step();
trainer.step();
process.stdout.write('ready\n');
const lines = createInterface({ input: process.stdin });
for await (const line of lines) {
  if (line.trim() !== 'go') continue;
  const start = performance.now();
  for (let step = 0; step < steps; step++) trainer.step();
  process.stdout.write(`${performance.now() - start}\n`);
  break;
}
lines.close();
trainer.dispose();
