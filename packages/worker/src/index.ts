export { ChunkGradients, type ChunkGradient } from './ChunkGradients.js';
export { runWorker, type WorkerOptions, type WorkerSummary } from './Worker.js';
