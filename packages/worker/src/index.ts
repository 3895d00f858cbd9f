export { AutodiffGradients } from './AutodiffGradients.js';
export { FusedLstmGradients } from './FusedLstmGradients.js';
export { fusedLstmSupport, supportsFusedLstm, type FusedLstmSupport } from './fusedLstmSupport.js';
export { createGradientPath } from './createGradientPath.js';
export type { ChunkGradient, GradientPath, SparseRows } from './GradientPath.js';
export { runWorker, type WorkerOptions, type WorkerSummary } from './Worker.js';
