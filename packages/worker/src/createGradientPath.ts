import { hasEmbedding, useBackend, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';
import { FusedLstmGradients } from './FusedLstmGradients.js';
import type { GradientPath } from './GradientPath.js';
import { supportsFusedLstm } from './fusedLstmSupport.js';

/**
 * Picks how this worker computes gradients: the fused LSTM path where the model fits it, tfjs
 * autodiff otherwise; then the backend (an autodiff embedding needs a backend with
 * UnsortedSegmentSum, so not wasm). `ADAMANT_GRADIENTS=autodiff` forces autodiff, for checks.
 */
export async function createGradientPath(job: WorkerJob, backendOverride?: WorkerJob['backend']): Promise<GradientPath> {
  const fused = supportsFusedLstm(job) && process.env.ADAMANT_GRADIENTS !== 'autodiff';
  const backend = await useBackend(backendOverride ?? job.backend, { needsSegmentSum: !fused && hasEmbedding(job.layers) });
  return fused ? new FusedLstmGradients(job, backend) : AutodiffGradients.create(job, backend);
}
