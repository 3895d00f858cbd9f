/**
 * How `adamant predict` prints a model's outputs. Text models keep their original forms (a
 * probability per text; a JSON array of `{text, probability}`) and add the class name and the
 * probabilities for multi-class heads; table models print one row per input row, as CSV with a
 * header or as JSON lines.
 */

/** What a head's outputs mean: C outputs per sample, and for classifiers the class names. */
export interface HeadOutputs {
  outputs: Float32Array;
  /** C: 1 for a regression or binary (sigmoid) head, one per class for softmax. */
  units: number;
  /** Classifiers: class k is labels[k] (two for a one-unit binary head). */
  labels?: readonly string[];
}

/** A float32 as the shortest decimal that reads back as the same float32 (0.1 rather than 0.10000000149011612). */
export function shortFloat32(value: number): number {
  if (!Number.isFinite(value)) return value;
  const single = Math.fround(value);
  for (let digits = 1; digits < 9; digits++) {
    const short = Number(single.toPrecision(digits));
    if (Math.fround(short) === single) return short;
  }
  return Number(single.toPrecision(9));
}

/** Sample b's class probabilities: [1 - p, p] for a one-unit head, else its outputs; as float32. */
function probabilitiesOf(head: HeadOutputs, b: number): number[] {
  const { outputs, units } = head;
  if (units === 1) return [Math.fround(1 - outputs[b]!), outputs[b]!];
  return Array.from(outputs.subarray(b * units, (b + 1) * units));
}

/** The index of the largest probability, the first on ties: a one-unit head's class 1 needs p > 0.5, as accuracy counts it. */
function classOf(probabilities: readonly number[]): number {
  let best = 0;
  for (let c = 1; c < probabilities.length; c++) if (probabilities[c]! > probabilities[best]!) best = c;
  return best;
}

/** Class k's name: its label, or k itself for a model saved without names. */
const nameOf = (head: HeadOutputs, k: number): string => head.labels?.[k] ?? String(k);

interface Decoded {
  label: string;
  probabilities: number[];
}

function decode(head: HeadOutputs, b: number): Decoded {
  const probabilities = probabilitiesOf(head, b).map(shortFloat32);
  return { label: nameOf(head, classOf(probabilities)), probabilities };
}

/** Class names to probabilities, in class order (JSON objects keep string keys in insertion order, integer-like ones ascending). */
function probabilityMap(head: HeadOutputs, probabilities: readonly number[]): Record<string, number> {
  return Object.fromEntries(probabilities.map((p, k) => [nameOf(head, k), p]));
}

/**
 * Text models. One-unit heads: `probability<TAB>text` per line, or one JSON array of
 * `{text, probability}`. Multi-class heads: `label<TAB>name p  name p …<TAB>text`, or
 * `{text, label, probabilities}` with a map from class name to probability.
 */
export function formatTextPredictions(texts: readonly string[], head: HeadOutputs, json: boolean): string {
  const multiClass = head.units > 1;
  if (json) {
    const entries = texts.map((text, b) => {
      if (!multiClass) return { text, probability: shortFloat32(head.outputs[b]!) };
      const { label, probabilities } = decode(head, b);
      return { text, label, probabilities: probabilityMap(head, probabilities) };
    });
    return `${JSON.stringify(entries)}\n`;
  }
  return texts
    .map((text, b) => {
      if (!multiClass) return `${head.outputs[b]!.toFixed(4)}\t${text}\n`;
      const { label, probabilities } = decode(head, b);
      return `${label}\t${probabilities.map((p, k) => `${nameOf(head, k)} ${p.toFixed(4)}`).join('  ')}\t${text}\n`;
    })
    .join('');
}

/** A CSV field, quoted when it holds a comma, a quote, a line break or surrounding spaces (RFC 4180). */
export function csvField(value: string | number): string {
  const text = String(value);
  return /[",\r\n]|^\s|\s$/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * Table models, one line per input row. CSV with a header: `prediction` for a regression head,
 * or `label` and one `p_<label>` column per class for a classifier. JSON lines: `{prediction}`,
 * or `{label, probabilities}` with a map from class name to probability.
 */
export function formatTablePredictions(rows: number, head: HeadOutputs, json: boolean): string {
  const classifier = head.labels !== undefined;
  const { outputs, units } = head;
  const values = (b: number): number[] => Array.from(outputs.subarray(b * units, (b + 1) * units), shortFloat32);
  const lines: string[] = [];
  if (json) {
    for (let b = 0; b < rows; b++) {
      if (!classifier) {
        lines.push(JSON.stringify({ prediction: units === 1 ? shortFloat32(outputs[b]!) : values(b) }));
        continue;
      }
      const { label, probabilities } = decode(head, b);
      lines.push(JSON.stringify({ label, probabilities: probabilityMap(head, probabilities) }));
    }
  } else {
    const classes = classifier ? head.labels!.length : 0;
    const header = classifier
      ? ['label', ...Array.from({ length: classes }, (_, k) => `p_${nameOf(head, k)}`)]
      : units === 1
        ? ['prediction']
        : Array.from({ length: units }, (_, c) => `prediction_${c}`);
    lines.push(header.map(csvField).join(','));
    for (let b = 0; b < rows; b++) {
      if (!classifier) {
        lines.push(values(b).join(','));
        continue;
      }
      const { label, probabilities } = decode(head, b);
      lines.push([csvField(label), ...probabilities].join(','));
    }
  }
  return lines.length ? `${lines.join('\n')}\n` : '';
}
