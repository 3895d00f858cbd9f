import type { MetricName } from '../config/names.js';

/**
 * Metrics as additive statistics. Each metric owns a fixed number of slots (counts or sums) that
 * a chunk fills from its predictions; the server sums the slots over chunks, in chunk order, and
 * turns the totals into the metric at the end (`finalizeMetrics`). Ratios such as precision are
 * therefore exact over the epoch (not a mean of per-batch ratios), and the totals, hence the
 * results, do not depend on how samples were split across workers.
 *
 * Predictions `p` are the head's outputs, row-major [B, C]: one probability per sample for a
 * sigmoid head (C = 1), one per class for softmax, the regressed value for a linear head. Targets
 * `y` are one number per sample: 0/1, a class index, or the regression target.
 */

/** Thresholds of `auc`, as Keras's `AUC()` uses them by default (num_thresholds = 200). */
export const AUC_THRESHOLDS = 200;
const AUC_EPSILON = 1e-7;

/**
 * Keras's AUC thresholds: just below 0, (i + 1) / (n - 1) for i < n - 2, just above 1; as float32,
 * as Keras holds them, so a float32 score equal to a threshold is not above it here either.
 */
export const aucThresholds: readonly number[] = [
  -AUC_EPSILON,
  ...Array.from({ length: AUC_THRESHOLDS - 2 }, (_, i) => (i + 1) / (AUC_THRESHOLDS - 1)),
  1 + AUC_EPSILON,
].map(Math.fround);

/** How many statistics a metric keeps per chunk. */
export function metricSlots(metric: MetricName): number {
  switch (metric) {
    case 'accuracy':
    case 'mae':
      return 1;
    case 'precision': // true positives, predicted positives
    case 'recall': // true positives, actual positives
      return 2;
    case 'auc': // per threshold bucket: positives, negatives
      return 2 * AUC_THRESHOLDS;
  }
}

/** The length of a chunk's metric statistics for a list of metrics (the wire's `metricSums`). */
export function metricStatisticsLength(metrics: readonly MetricName[]): number {
  let n = 0;
  for (const m of metrics) n += metricSlots(m);
  return n;
}

/** Fresh, zeroed statistics for `metrics`. */
export function emptyMetricStatistics(metrics: readonly MetricName[]): number[] {
  return new Array<number>(metricStatisticsLength(metrics)).fill(0);
}

/** The index of the largest of row b's C values; the first on ties, as tf.argMax. */
function argMax(p: ArrayLike<number>, b: number, C: number): number {
  let best = 0;
  for (let c = 1; c < C; c++) if (p[b * C + c]! > p[b * C + best]!) best = c;
  return best;
}

/**
 * The bucket of `auc`'s statistics for a score: the number of thresholds it lies strictly
 * above, minus one (a score above exactly k thresholds counts for the first k of them).
 */
function aucBucket(score: number): number {
  // Thresholds are evenly spaced inside (0, 1): find the count above, then fix up at the edges.
  let above = score > aucThresholds[0]! ? 1 : 0;
  if (above) {
    above += Math.max(0, Math.min(AUC_THRESHOLDS - 2, Math.ceil(score * (AUC_THRESHOLDS - 1)) - 1));
    while (above < AUC_THRESHOLDS && score > aucThresholds[above]!) above++;
    while (above > 1 && !(score > aucThresholds[above - 1]!)) above--;
  }
  return above; // 0..AUC_THRESHOLDS
}

/**
 * Adds one chunk's statistics into `out` (which holds metricStatisticsLength(metrics) slots, in
 * the metrics' order). Binary metrics read p as the probability of class 1 (C must be 1);
 * accuracy is the thresholded match for C = 1 and the argmax match for C > 1, as Keras picks.
 */
export function addMetricStatistics(
  metrics: readonly MetricName[],
  p: ArrayLike<number>,
  y: ArrayLike<number>,
  B: number,
  C: number,
  out: number[] | Float64Array,
): void {
  let at = 0;
  for (const metric of metrics) {
    switch (metric) {
      case 'accuracy': {
        let hits = 0;
        for (let b = 0; b < B; b++) {
          const predicted = C === 1 ? (p[b]! > 0.5 ? 1 : 0) : argMax(p, b, C);
          if (predicted === y[b]) hits++;
        }
        out[at] = out[at]! + hits;
        break;
      }
      case 'mae': {
        let sum = 0;
        // Mean over the C outputs of each sample, as tf.metrics.meanAbsoluteError.
        for (let b = 0; b < B; b++) {
          let row = 0;
          for (let c = 0; c < C; c++) row += Math.abs(p[b * C + c]! - (C === 1 ? y[b]! : Number(c === y[b])));
          sum += row / C;
        }
        out[at] = out[at]! + sum;
        break;
      }
      case 'precision':
      case 'recall': {
        let truePositives = 0;
        let counted = 0;
        for (let b = 0; b < B; b++) {
          const predicted = p[b]! > 0.5;
          const actual = y[b] === 1;
          if (predicted && actual) truePositives++;
          if (metric === 'precision' ? predicted : actual) counted++;
        }
        out[at] = out[at]! + truePositives;
        out[at + 1] = out[at + 1]! + counted;
        break;
      }
      case 'auc':
        for (let b = 0; b < B; b++) {
          const bucket = aucBucket(p[b]!);
          // Buckets 1..n hold scores above the first `bucket` thresholds; bucket 0 (below all) adds nothing.
          if (bucket > 0) {
            const slot = at + 2 * (bucket - 1) + (y[b] === 1 ? 0 : 1);
            out[slot] = out[slot]! + 1;
          }
        }
        break;
    }
    at += metricSlots(metric);
  }
}

const divideNoNan = (a: number, b: number): number => (b === 0 ? 0 : a / b);

/** Keras's AUC (ROC curve, trapezoidal interpolation) from the bucket counts and the class totals. */
function aucFromBuckets(stats: ArrayLike<number>, at: number, positives: number, negatives: number): number {
  const n = AUC_THRESHOLDS;
  // True and false positives at threshold i: the scores above it, i.e. in buckets i + 1..n.
  const tpr = new Float64Array(n);
  const fpr = new Float64Array(n);
  let tp = 0;
  let fp = 0;
  for (let i = n - 1; i >= 0; i--) {
    tp += stats[at + 2 * i]!;
    fp += stats[at + 2 * i + 1]!;
    tpr[i] = divideNoNan(tp, positives);
    fpr[i] = divideNoNan(fp, negatives);
  }
  let area = 0;
  for (let i = 0; i < n - 1; i++) area += (fpr[i]! - fpr[i + 1]!) * ((tpr[i]! + tpr[i + 1]!) / 2);
  return area;
}

/**
 * The metrics' values from statistics summed over `samples` samples. `auc` needs the class
 * totals, which its buckets hold (every score lies above the first threshold, -1e-7).
 */
export function finalizeMetrics(metrics: readonly MetricName[], stats: ArrayLike<number>, samples: number): Record<string, number> {
  const values: Record<string, number> = {};
  let at = 0;
  for (const metric of metrics) {
    switch (metric) {
      case 'accuracy':
      case 'mae':
        values[metric] = stats[at]! / samples;
        break;
      case 'precision':
      case 'recall':
        values[metric] = divideNoNan(stats[at]!, stats[at + 1]!);
        break;
      case 'auc': {
        let positives = 0;
        let negatives = 0;
        for (let i = 0; i < AUC_THRESHOLDS; i++) {
          positives += stats[at + 2 * i]!;
          negatives += stats[at + 2 * i + 1]!;
        }
        values[metric] = aucFromBuckets(stats, at, positives, negatives);
        break;
      }
    }
    at += metricSlots(metric);
  }
  return values;
}
