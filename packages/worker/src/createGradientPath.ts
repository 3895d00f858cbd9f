import { fusedSupport, hasEmbedding, useBackend, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';
import { hasFusedLayers } from './fused/createLayer.js';
import { FusedGradients } from './fused/FusedGradients.js';
import type { GradientPath } from './GradientPath.js';

/** Whether this worker trains `job` on the fused path: core's fusedSupport accepts it and ADAMANT_GRADIENTS does not force autodiff. */
export function usesFusedPath(job: WorkerJob): boolean {
  return process.env.ADAMANT_GRADIENTS !== 'autodiff' && fusedSupport(job.layers, job.loss, job.metrics).ok && hasFusedLayers(job.layers);
}

/**
 * Picks how this worker computes gradients: the fused path where core's fusedSupport accepts the
 * model, tfjs autodiff otherwise; then the backend (an autodiff embedding needs a backend with
 * UnsortedSegmentSum, so not wasm). `ADAMANT_GRADIENTS=autodiff` forces autodiff, for checks.
 */
export async function createGradientPath(job: WorkerJob, backendOverride?: WorkerJob['backend']): Promise<GradientPath> {
  const fused = usesFusedPath(job);
  const backend = await useBackend(backendOverride ?? job.backend, { needsSegmentSum: !fused && hasEmbedding(job.layers) });
  return fused ? new FusedGradients(job, backend) : AutodiffGradients.create(job, backend);
}
