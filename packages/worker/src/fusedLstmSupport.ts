import type { LayerSpec, WorkerJob } from '@adamant/core';
import { FUSED_HEAD_ACTIVATIONS, FUSED_LOSSES, FUSED_METRICS, isFusedHeadActivation, isFusedLoss, isFusedMetric, type FusedHeadSpec, type FusedMetric } from './fusedHead.js';

type LstmSpec = Extract<LayerSpec, { type: 'lstm' }>;

/** Whether the fused path can train a job: with what head it would, or what forces autodiff. */
export type FusedLstmSupport = { ok: true; head: FusedHeadSpec } | { ok: false; reason: string };

const no = (reason: string): FusedLstmSupport => ({ ok: false, reason });

/**
 * Checks a job against what the fused path implements: [embedding] -> lstm... -> dense(1), with
 * tanh / sigmoid LSTMs (every LSTM but the last returning sequences), a biased linear or sigmoid
 * head, and a loss and metrics from FUSED_LOSSES and FUSED_METRICS. Layers are named as in the
 * config, `model[i]`.
 */
export function fusedLstmSupport(job: WorkerJob): FusedLstmSupport {
  const layers = job.layers;
  const last = layers.length - 1;
  const head = layers[last]!;
  if (head.type !== 'dense') return no(`model[${last}] (${head.type}) is not a dense head`);
  if (head.units !== 1) return no(`the head, model[${last}], has ${head.units} units; the fused path implements 1`);
  if (!head.useBias) return no(`the head, model[${last}], has no bias; the fused path implements a biased head`);
  if (!isFusedHeadActivation(head.activation)) {
    return no(`the head's activation ${head.activation} is not implemented by the fused path (${FUSED_HEAD_ACTIVATIONS.join(', ')})`);
  }
  const first = layers[0]?.type === 'embedding' ? 1 : 0;
  if (first === last) return no('there is no lstm before the head');
  for (let i = first; i < last; i++) {
    const type = layers[i]!.type;
    if (type !== 'lstm') return no(`model[${i}] (${type}) is not an lstm`);
  }
  for (let i = first; i < last; i++) {
    const layer = layers[i] as LstmSpec;
    if (layer.activation !== 'tanh') return no(`model[${i}] (lstm) has activation ${layer.activation}; the fused path implements tanh`);
    if (layer.recurrentActivation !== 'sigmoid') {
      return no(`model[${i}] (lstm) has recurrentActivation ${layer.recurrentActivation}; the fused path implements sigmoid`);
    }
    const feedsLstm = i < last - 1;
    if (layer.returnSequences !== feedsLstm) {
      return no(feedsLstm ? `model[${i}] (lstm) feeds another lstm without returnSequences` : `model[${i}] (lstm) feeds the head with returnSequences`);
    }
  }
  // The protocol may name losses and metrics the fused head does not implement: those train with autodiff.
  const loss: string = job.loss;
  if (!isFusedLoss(loss)) return no(`loss ${loss} is not implemented by the fused path (${FUSED_LOSSES.join(', ')})`);
  const metrics: FusedMetric[] = [];
  for (const metric of job.metrics as readonly string[]) {
    if (!isFusedMetric(metric)) return no(`metric ${metric} is not implemented by the fused path (${FUSED_METRICS.join(', ')})`);
    metrics.push(metric);
  }
  return { ok: true, head: { activation: head.activation, loss, metrics } };
}

/** Whether the fused path can train this job (fusedLstmSupport says why not). */
export function supportsFusedLstm(job: WorkerJob): boolean {
  return fusedLstmSupport(job).ok;
}
