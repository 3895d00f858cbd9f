import { hasEmbedding, useBackend, type WorkerJob } from '@adamant/core';
import { ChunkGradients } from './ChunkGradients.js';
import type { GradientPath } from './GradientPath.js';
import { LstmGradients, supportsFusedLstm } from './LstmGradients.js';

/**
 * Picks how this worker computes gradients: the fused LSTM path where the model fits it, tfjs
 * autodiff otherwise; then the backend (an autodiff embedding needs a backend with
 * UnsortedSegmentSum, so not wasm). `ADAMANT_GRADIENTS=autodiff` forces autodiff, for checks.
 */
export async function createGradientPath(job: WorkerJob, backendOverride?: WorkerJob['backend']): Promise<GradientPath> {
  const fused = supportsFusedLstm(job) && process.env.ADAMANT_GRADIENTS !== 'autodiff';
  const backend = await useBackend(backendOverride ?? job.backend, { needsSegmentSum: !fused && hasEmbedding(job.layers) });
  return fused ? new LstmGradients(job, backend) : ChunkGradients.create(job, backend);
}
