import { metricSlots, metricStatisticsLength, NumericError, ProtocolError, sumOfSquares, type ChunkResult, type MetricName } from '@adamant/core';
import type { ParameterServer } from './ParameterServer.js';
import type { Opinion } from './Verification.js';

/** What a chunk result must be: its planned sample count and the job's metrics, by name (their statistics, metrics.ts). */
export interface ChunkExpectation {
  samples: number;
  metricNames: readonly MetricName[];
  /** `--max-chunk-grad-norm`: the largest gradient L2 norm per sample; unset: no bound. */
  maxGradNormPerSample?: number;
}

/** A result that passed every check, or what is wrong with its numbers. */
export type CheckedResult<W> = { opinion: Opinion<W> } | { problem: string; nonFinite: boolean };

/**
 * The checks on one chunk result before it counts: its sample and metric counts and its gradient's
 * layout, by the sink's decode (a training result must carry a gradient, a forward-only one none;
 * a ProtocolError naming `peer`: a malformed result costs the peer its connection), then
 * its numbers: every value finite (the gradient, the loss and each metric statistic), and, with a bound,
 * the gradient's L2 norm. A problem with the numbers is returned, not thrown: whether it stops the
 * job or only the peer is the step round's call.
 */
export function checkChunkResult<W>(
  worker: W,
  peer: string,
  message: ChunkResult,
  expected: ChunkExpectation,
  sink: Pick<ParameterServer, 'decode' | 'nonFinite'>,
): CheckedResult<W> {
  if (message.samples !== expected.samples) {
    throw new ProtocolError(`${peer}: chunk ${message.index} reports ${message.samples} samples, it has ${expected.samples}`);
  }
  const statistics = metricStatisticsLength(expected.metricNames);
  if (message.metricSums.length !== statistics) {
    throw new ProtocolError(`${peer}: chunk ${message.index} has ${message.metricSums.length} metric sums, expected ${statistics}`);
  }
  const part = sink.decode(message, peer);
  const nonFinite = sink.nonFinite(part) ?? nonFiniteSum(message, expected.metricNames);
  if (nonFinite) return { problem: nonFinite, nonFinite: true };
  const bound = expected.maxGradNormPerSample;
  if (bound !== undefined) {
    const norm = Math.sqrt(sumOfSquares(part.dense) + (part.sparse ? sumOfSquares(part.sparse.values) : 0));
    if (norm > bound * message.samples) {
      return { problem: `gradient L2 norm ${norm.toExponential(3)} exceeds ${bound} x ${message.samples} samples (--max-chunk-grad-norm)`, nonFinite: false };
    }
  }
  return { opinion: { worker, part, lossSum: message.lossSum, metricSums: message.metricSums } };
}

/** "loss is NaN", "metric mae sum is Infinity", "metric auc statistic 7 is NaN", or undefined when the sums are finite. */
function nonFiniteSum(message: ChunkResult, metricNames: readonly MetricName[]): string | undefined {
  if (!Number.isFinite(message.lossSum)) return `loss is ${message.lossSum}`;
  let at = 0;
  for (const metric of metricNames) {
    const slots = metricSlots(metric);
    for (let k = 0; k < slots; k++) {
      const value = message.metricSums[at + k]!;
      if (!Number.isFinite(value)) return slots === 1 ? `metric ${metric} sum is ${value}` : `metric ${metric} statistic ${k} is ${value}`;
    }
    at += slots;
  }
  return undefined;
}

/** A chunk result whose numbers failed a check, and what is known of the chunk. */
export interface NumericProblem<W extends { readonly name: string }> {
  /** "step 3 (epoch 1, batch 4), chunk 2" */
  where: string;
  worker: W;
  problem: string;
  nonFinite: boolean;
  /** Whether --max-chunk-grad-norm is set. */
  bounded: boolean;
  /** The worker whose result for this chunk failed before, if any (it was dropped). */
  earlier: { worker: W; problem: string } | undefined;
  /** Whether another worker is ready to compute the chunk again. */
  othersReady: boolean;
}

/**
 * Throws the NumericError that stops the job when a failed check means the data or the learning
 * rate, not the peer: a non-finite result without --max-chunk-grad-norm (a diverging run is the
 * usual cause), or with it, a second worker's failing result for the same chunk, or no other
 * worker to ask. Otherwise returns: the worker alone pays, with its connection.
 */
export function stopOnConfirmedProblem<W extends { readonly name: string }>(p: NumericProblem<W>): void {
  const from = `${p.where} from worker ${p.worker.name}: ${p.problem}`;
  if (p.nonFinite && !p.bounded) throw new NumericError(`${from}; the weights were not updated. Lower the learning rate or check the data`);
  if (p.earlier && p.earlier.worker !== p.worker) {
    throw new NumericError(`${from}; from worker ${p.earlier.worker.name} before it: ${p.earlier.problem}. Two workers agree, so the data or the learning rate is the cause; the weights were not updated`);
  }
  if (!p.othersReady) throw new NumericError(`${from}, and no other worker is ready to compute it again; the weights were not updated. Lower the learning rate or check the data`);
}
