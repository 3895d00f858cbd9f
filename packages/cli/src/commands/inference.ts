import { readFileSync } from 'node:fs';
import { evaluateSaved, loadSavedModel, predictTexts, useBackend, type BackendName } from '@adamant/core';

export interface InferenceOptions {
  json?: boolean;
  backend?: BackendName;
}

/** `adamant evaluate MODEL_DIR DATA`: loss and metrics of a saved model on a data file. */
export async function evaluateCommand(modelDir: string, dataFile: string, options: InferenceOptions): Promise<void> {
  await useBackend(options.backend ?? 'auto');
  const saved = await loadSavedModel(modelDir);
  const result = evaluateSaved(saved, dataFile);
  saved.model.dispose();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const parts = [`loss ${result.loss.toPrecision(4)}`, ...Object.entries(result.metrics).map(([k, v]) => `${k} ${v.toPrecision(4)}`)];
  const skipped = result.skipped ? `, ${result.skipped} bad rows skipped` : '';
  process.stdout.write(`${parts.join('  ')}  (${result.samples} samples${skipped})\n`);
}

/** `adamant predict MODEL_DIR TEXT...`: the model's probability for each text ("-" reads lines from stdin). */
export async function predictCommand(modelDir: string, texts: string[], options: InferenceOptions): Promise<void> {
  await useBackend(options.backend ?? 'auto');
  const inputs = texts.flatMap((t) => (t === '-' ? readFileSync(0, 'utf8').split('\n').filter((line) => line.trim() !== '') : [t]));
  const saved = await loadSavedModel(modelDir);
  const outputs = inputs.length ? predictTexts(saved, inputs) : [];
  saved.model.dispose();
  if (options.json) {
    process.stdout.write(`${JSON.stringify(inputs.map((text, i) => ({ text, probability: outputs[i] })))}\n`);
    return;
  }
  inputs.forEach((text, i) => {
    process.stdout.write(`${outputs[i]!.toFixed(4)}\t${text}\n`);
  });
}
