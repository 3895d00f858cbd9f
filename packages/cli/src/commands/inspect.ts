import { type Inspection, inspect } from '../inspection.js';
import { formatValue } from '../progressFormat.js';

export interface InspectCommandOptions {
  json?: boolean;
}

const count = (n: number) => n.toLocaleString('en-US');

function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB'];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

function table(rows: string[][], rightAligned: ReadonlySet<number>): string[] {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (rightAligned.has(c) ? cell.padStart(widths[c]!) : cell.padEnd(widths[c]!))).join('  ').trimEnd());
}

function figures(last: NonNullable<Inspection['training']['last']>): string {
  const parts: string[] = [];
  if (last.loss !== undefined) parts.push(`loss ${formatValue(last.loss)}`);
  for (const [k, v] of Object.entries(last.metrics ?? {})) parts.push(`${k} ${formatValue(v)}`);
  if (last.valLoss !== undefined) parts.push(`val_loss ${formatValue(last.valLoss)}`);
  for (const [k, v] of Object.entries(last.valMetrics ?? {})) parts.push(`val_${k} ${formatValue(v)}`);
  return parts.join('  ');
}

function dataLine(data: Inspection['data']): string {
  const parts: string[] = [data.type];
  if (data.features) parts.push(`${data.features.length} features (${data.features.join(', ')})${data.normalized ? ', standardised' : ''}`);
  if (data.vocabulary !== undefined) parts.push(`tokenizer of ${count(data.vocabulary)} words (numWords ${count(data.numWords ?? 0)})`);
  if (data.maxLength !== undefined) parts.push(`sequences of ${data.maxLength} tokens`);
  parts.push(data.labels ? `${data.labels.length} classes: ${data.labels.join(', ')}` : 'no class labels');
  return parts.join('; ');
}

function trainingLine(t: Inspection['training'], kind: Inspection['kind']): string | undefined {
  if (kind === 'checkpoint') {
    const batches = t.batchesDone ? ` and ${t.batchesDone} batch(es)` : '';
    return `step ${t.step}: ${t.epochsDone} of ${t.epochs} epoch(s)${batches} done; ${t.historyLength} epoch(s) in the history`;
  }
  if (t.epochs === undefined) return undefined;
  return `${t.epochs} epoch(s), ${t.step ?? '?'} step(s)${t.historyLength !== undefined ? `; ${t.historyLength} epoch(s) in the history` : ''}`;
}

function configLine(c: NonNullable<Inspection['config']>): string {
  const rate = typeof c.learningRate === 'number' ? String(c.learningRate) : JSON.stringify(c.learningRate);
  const metrics = c.metrics && c.metrics.length > 0 ? `, metrics ${c.metrics.join(', ')}` : '';
  return `${c.optimizer} (learning rate ${rate}), loss ${c.loss}${metrics}, batch size ${c.batchSize}, chunk size ${c.chunkSize}, ${c.epochs} epoch(s), seed ${c.seed}`;
}

/** The inspection for people: a Keras-style layer table, then one line per fact, then the files. */
export function formatInspection(r: Inspection): string {
  const lines = [`${r.kind === 'model' ? 'Saved model' : 'Checkpoint'} ${r.path}`, ''];
  const rows = [['Layer (type)', 'Output shape', 'Params'], ...r.layers.map((l) => [`${l.name} (${l.type})`, l.outputShape, count(l.params)])];
  lines.push(...table(rows, new Set([2])), `Total parameters: ${count(r.params)}`, '');
  lines.push(`Data:       ${dataLine(r.data)}`);
  const training = trainingLine(r.training, r.kind);
  if (training) lines.push(`Training:   ${training}`);
  if (r.training.last) lines.push(`Last epoch: ${figures(r.training.last)}`);
  if (r.config) lines.push(`Config:     ${configLine(r.config)}`);
  lines.push('Files:', ...(r.files.length > 0 ? table(r.files.map((f) => [`  ${f.name}`, bytes(f.bytes)]), new Set([1])) : ['  (none)']));
  return `${lines.join('\n')}\n`;
}

/** `adamant inspect DIR`: what a saved model or a checkpoint holds, for people or (`--json`) machines. */
export async function inspectCommand(target: string, options: InspectCommandOptions): Promise<void> {
  const report = await inspect(target);
  process.stdout.write(options.json ? `${JSON.stringify(report)}\n` : formatInspection(report));
}
