import { fusedSupport, hasEmbedding, useBackend, type GemmChoice, type WorkerJob } from '@adamant/core';
import { AutodiffGradients } from './AutodiffGradients.js';
import { hasFusedLayers } from './fused/createLayer.js';
import { FusedGradients } from './fused/FusedGradients.js';
import { loadGemmEngine } from './gemm/loadGemmEngine.js';
import type { GradientPath } from './GradientPath.js';

/** Whether this worker trains `job` on the fused path: core's fusedSupport accepts it and ADAMANT_GRADIENTS does not force autodiff. */
export function usesFusedPath(job: Pick<WorkerJob, 'layers' | 'loss' | 'metrics'>): boolean {
  return process.env.ADAMANT_GRADIENTS !== 'autodiff' && fusedSupport(job.layers, job.loss, job.metrics).ok && hasFusedLayers(job.layers);
}

export interface GradientPathOptions {
  /** Overrides the job's backend on this machine. */
  backend?: WorkerJob['backend'];
  /** Overrides the job's GEMM engine (job.gemm, default auto) on this machine; autodiff has none. */
  gemm?: GemmChoice;
  /** With gemm auto: told, with the line to log, when OpenBLAS does not load and wasm runs instead. */
  onGemmFallback?: (message: string) => void;
}

/**
 * Picks how this worker computes gradients: the fused path where core's fusedSupport accepts the
 * model, on the GEMM engine chosen here or by the job, tfjs autodiff otherwise; then the backend
 * (an autodiff embedding needs a backend with UnsortedSegmentSum, so not wasm).
 * `ADAMANT_GRADIENTS=autodiff` forces autodiff, for checks.
 */
export async function createGradientPath(job: WorkerJob, options: GradientPathOptions = {}): Promise<GradientPath> {
  const fused = usesFusedPath(job);
  const backend = await useBackend(options.backend ?? job.backend, { needsSegmentSum: !fused && hasEmbedding(job.layers) });
  if (!fused) return AutodiffGradients.create(job, backend);
  const gemm = loadGemmEngine(options.gemm ?? job.gemm ?? 'auto', options.onGemmFallback ? { onFallback: options.onGemmFallback } : {});
  return new FusedGradients(job, backend, gemm);
}
