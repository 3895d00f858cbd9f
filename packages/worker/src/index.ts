export { AutodiffGradients } from './AutodiffGradients.js';
export { FusedGradients } from './fused/FusedGradients.js';
export { FusedModel, type FusedModelSpec, INFERENCE_ROWS } from './fused/FusedModel.js';
export { createGradientPath, usesFusedPath } from './createGradientPath.js';
export { Inference, type InferenceOptions, type InferencePath } from './Inference.js';
export type { ChunkGradient, GradientPath, SparseRows } from './GradientPath.js';
export { ComputeThread, type ComputeThreadOptions, type StepTiming } from './ComputeThread.js';
export { CoordinatorStoppedError, DEFAULT_MAX_PARAMS, runWorker, type WorkerOptions, type WorkerSummary } from './Worker.js';
export { CertificateError, parseFingerprint, showFingerprint, type WorkerTls } from './tls.js';
