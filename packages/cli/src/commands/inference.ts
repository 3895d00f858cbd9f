import { readFileSync } from 'node:fs';
import { DataError, readDataFor, readTableInput, textInput, type BackendName, type GemmChoice } from '@adamant/core';
import { Inference } from '@adamant/worker';
import { formatTablePredictions, formatTextPredictions } from './predictionFormat.js';

export interface InferenceCommandOptions {
  json?: boolean;
  backend?: BackendName;
  /** false (`--no-fused`): tfjs model.predict even where the model has a fused forward path. */
  fused?: boolean;
  /** The fused forward pass's GEMM engine (default auto). */
  gemm?: GemmChoice;
}

/**
 * Loads the model for `evaluate` and `predict`. A fallback from OpenBLAS to wasm under
 * `--gemm auto` is one line on stderr, as for a worker; stdout keeps only the results.
 */
function loadInference(modelDir: string, options: InferenceCommandOptions): Promise<Inference> {
  return Inference.load(modelDir, { ...options, onGemmFallback: (line) => process.stderr.write(`${line}\n`) });
}

export interface PredictOptions extends InferenceCommandOptions {
  /** Table models: a CSV file with a header, or "-" for stdin. */
  csv?: string;
}

/** `adamant evaluate MODEL_DIR DATA`: loss and metrics of a saved model on a data file. */
export async function evaluateCommand(modelDir: string, dataFile: string, options: InferenceCommandOptions): Promise<void> {
  const inference = await loadInference(modelDir, options);
  try {
    const { data, skipped } = readDataFor(inference.saved, dataFile);
    if (data.rows === 0) throw new DataError(`${dataFile}: no rows to evaluate`);
    const started = performance.now();
    const { samples, loss, metrics, classes } = inference.evaluate(data);
    const seconds = (performance.now() - started) / 1000;
    if (options.json) {
      const result = { samples, loss, metrics, skipped: skipped.length, ...(classes ? { classes } : {}), path: inference.path, backend: inference.backend, ...(inference.gemm ? { gemm: inference.gemm.name } : {}), seconds };
      process.stdout.write(`${JSON.stringify(result)}\n`);
      return;
    }
    const parts = [`loss ${loss.toPrecision(4)}`, ...Object.entries(metrics).map(([k, v]) => `${k} ${v.toPrecision(4)}`)];
    const skippedRows = skipped.length ? `, ${skipped.length} bad rows skipped` : '';
    process.stdout.write(`${parts.join('  ')}  (${samples} samples${skippedRows})\n`);
  } finally {
    inference.dispose();
  }
}

/** Lines of stdin, without empty ones. */
const stdinLines = (): string[] => readFileSync(0, 'utf8').split(/\r?\n/).filter((line) => line.trim() !== '');

/**
 * `adamant predict MODEL_DIR [TEXT...]` for text models ("-" reads one text per line from stdin),
 * `adamant predict MODEL_DIR --csv FILE` for table models ("-" reads the CSV from stdin).
 */
export async function predictCommand(modelDir: string, texts: string[], options: PredictOptions): Promise<void> {
  const inference = await loadInference(modelDir, options);
  try {
    const { saved } = inference;
    const head = { units: inference.outputs, ...(saved.labels ? { labels: saved.labels } : {}) };
    const json = options.json === true;
    if (options.csv !== undefined) {
      const data = readTableInput(saved, options.csv);
      const outputs = inference.predict(data.x, data.rows);
      process.stdout.write(formatTablePredictions(data.rows, { ...head, outputs }, json));
      return;
    }
    const inputs = texts.flatMap((t) => (t === '-' ? stdinLines() : [t]));
    const x = textInput(saved, inputs);
    const outputs = inference.predict(x, inputs.length);
    process.stdout.write(formatTextPredictions(inputs, { ...head, outputs }, json));
  } finally {
    inference.dispose();
  }
}
