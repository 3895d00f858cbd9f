export { ChunkGradients } from './ChunkGradients.js';
export { LstmGradients, supportsFusedLstm } from './LstmGradients.js';
export { createGradientPath } from './createGradientPath.js';
export type { ChunkGradient, GradientPath, SparseRows } from './GradientPath.js';
export { runWorker, type WorkerOptions, type WorkerSummary } from './Worker.js';
