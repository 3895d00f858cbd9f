export { AutodiffGradients } from './AutodiffGradients.js';
export { FusedLstmGradients } from './FusedLstmGradients.js';
export { fusedLstmSupport, supportsFusedLstm, type FusedLstmSupport } from './fusedLstmSupport.js';
export { createGradientPath } from './createGradientPath.js';
export type { ChunkGradient, GradientPath, SparseRows } from './GradientPath.js';
export { ComputeThread, type ComputeThreadOptions, type StepTiming } from './ComputeThread.js';
export { CoordinatorStoppedError, DEFAULT_MAX_PARAMS, runWorker, type WorkerOptions, type WorkerSummary } from './Worker.js';
export { CertificateError, parseFingerprint, showFingerprint, type WorkerTls } from './tls.js';
