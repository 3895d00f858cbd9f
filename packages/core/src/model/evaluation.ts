import type { LossName, MetricName } from '../config/names.js';
import { ShapeError } from '../errors.js';
import { addMetricStatistics, emptyMetricStatistics, finalizeMetrics } from './metrics.js';
import { headLoss } from './objective.js';

/**
 * Rows per slice when a saved model runs on a data file (`adamant evaluate`, `predict`): working
 * memory stays bounded, and the loss is summed slice by slice in row order, so the result does
 * not depend on anything but the file, the weights and the backend.
 */
export const EVALUATION_ROWS = 512;

/** One class of a classifier's evaluation: its samples, how many were predicted as it, and how many of its samples were. */
export interface ClassCount {
  label: string;
  samples: number;
  predicted: number;
  correct: number;
}

export interface Evaluation {
  samples: number;
  /** Mean loss per sample: with sample weights, Σ w·loss over the sample count, as Keras's evaluate(sample_weight=...). */
  loss: number;
  /** Each configured metric, from its statistics over every sample (finalizeMetrics). */
  metrics: Record<string, number>;
  /** Classifiers: per class, in class order. */
  classes?: ClassCount[];
}

export interface TallySpec {
  loss: LossName;
  metrics: readonly MetricName[];
  /** The head's outputs per sample, C. */
  outputs: number;
  /** Classifiers: class k is labels[k] (two for a one-unit binary head). */
  labels?: readonly string[];
}

/**
 * Loss, metric statistics and per-class counts of a model's outputs, added slice by slice in row
 * order. It reads only the outputs (the head's activations, float32 as a model's predict gives
 * them), so every inference path is scored by the same arithmetic. The losses read only the
 * outputs p = activation(z): with the identity as headLoss's activation, it takes them as given.
 */
export class EvaluationTally {
  private samples = 0;
  private lossSum = 0;
  private readonly metricSums: number[];
  private readonly counts?: { samples: Float64Array; predicted: Float64Array; correct: Float64Array };
  private probabilities = new Float64Array(0);

  constructor(private readonly spec: TallySpec) {
    this.metricSums = emptyMetricStatistics(spec.metrics);
    const classes = spec.labels?.length;
    if (classes !== undefined) {
      if (classes !== (spec.outputs === 1 ? 2 : spec.outputs)) throw new ShapeError(`${classes} labels for a head of ${spec.outputs} output(s)`);
      this.counts = { samples: new Float64Array(classes), predicted: new Float64Array(classes), correct: new Float64Array(classes) };
    }
  }

  /**
   * Adds `rows` samples: their outputs [rows, C], targets (one per sample) and, optionally, sample
   * weights (one per sample), which weigh the loss only: metrics stay unweighted, as Keras's `metrics`.
   */
  add(outputs: Float32Array, y: Float32Array, rows: number, w?: Float32Array): void {
    const C = this.spec.outputs;
    if (outputs.length !== rows * C || y.length !== rows || (w && w.length !== rows)) {
      const given = w ? `${outputs.length} outputs, ${y.length} targets and ${w.length} weights` : `${outputs.length} outputs and ${y.length} targets`;
      throw new ShapeError(`${given} for ${rows} samples of ${C} output(s)`);
    }
    if (this.probabilities.length < rows * C) this.probabilities = new Float64Array(rows * C);
    const head = { activation: 'linear', loss: this.spec.loss, units: C } as const;
    this.lossSum += headLoss(head, outputs, y, rows, this.probabilities.subarray(0, rows * C), undefined, w);
    if (this.spec.metrics.length > 0) addMetricStatistics(this.spec.metrics, outputs, y, rows, C, this.metricSums);
    if (this.counts) this.countClasses(outputs, y, rows, C, this.counts);
    this.samples += rows;
  }

  /** The predicted class is the one accuracy counts: output > 0.5 for one output, else the largest (the first on ties). */
  private countClasses(outputs: Float32Array, y: Float32Array, rows: number, C: number, counts: NonNullable<EvaluationTally['counts']>): void {
    for (let b = 0; b < rows; b++) {
      let predicted = 0;
      if (C === 1) predicted = outputs[b]! > 0.5 ? 1 : 0;
      else for (let c = 1; c < C; c++) if (outputs[b * C + c]! > outputs[b * C + predicted]!) predicted = c;
      const actual = y[b]!;
      counts.predicted[predicted]!++;
      if (actual >= 0 && actual < counts.samples.length) counts.samples[actual]!++;
      if (predicted === actual) counts.correct[predicted]!++;
    }
  }

  /** The mean loss, the metrics and the class counts so far (of at least one sample). */
  result(): Evaluation {
    if (this.samples === 0) throw new ShapeError('no samples to evaluate');
    const evaluation: Evaluation = {
      samples: this.samples,
      loss: this.lossSum / this.samples,
      metrics: finalizeMetrics(this.spec.metrics, this.metricSums, this.samples),
    };
    const { counts, spec } = this;
    if (counts && spec.labels) {
      evaluation.classes = spec.labels.map((label, k) => ({ label, samples: counts.samples[k]!, predicted: counts.predicted[k]!, correct: counts.correct[k]! }));
    }
    return evaluation;
  }
}
