import type { EpochReport } from '@adamant/coordinator';

/** A loss or metric as Keras prints it: four decimals, or four significant digits in exponent form when tiny. */
export function formatValue(value: number): string {
  return Math.abs(value) > 1e-3 ? value.toFixed(4) : value.toExponential(4);
}

/** A time left as a clock: `0:07`, `12:05`, `1:02:03`. */
export function formatClock(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  const [h, m, r] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60), s % 60];
  const mm = h > 0 ? String(m).padStart(2, '0') : String(m);
  return `${h > 0 ? `${h}:` : ''}${mm}:${String(r).padStart(2, '0')}`;
}

/** An epoch's duration: `0.4s` under ten seconds, `12s`, then `3m05s`. */
export function formatSeconds(seconds: number): string {
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 600) return `${Math.round(seconds)}s`;
  const s = Math.round(seconds);
  return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** `[=========>....................]`: `done` of `total`, `width` characters inside the brackets. */
export function formatBar(done: number, total: number, width = 30): string {
  const filled = total > 0 ? Math.min(width, Math.floor((done / total) * width)) : 0;
  if (filled >= width) return `[${'='.repeat(width)}]`;
  return `[${'='.repeat(filled)}>${'.'.repeat(width - filled - 1)}]`;
}

/** A rate with at most three significant digits in the integer part shown: `412`, `58.3`, `1.25`. */
export function formatRate(perSecond: number): string {
  if (perSecond >= 100) return String(Math.round(perSecond));
  if (perSecond >= 10) return perSecond.toFixed(1);
  return perSecond.toFixed(2);
}

/** What the running figures of an epoch show, on the bar and on the plain lines. */
export interface EpochFigures {
  epoch: number;
  epochs: number | undefined;
  /** Batches done (1-based position) and in the epoch. */
  done: number;
  batches: number;
  loss: number;
  metrics: Record<string, number>;
  /** Seconds left in the epoch at the pace so far. */
  etaSeconds: number;
  samplesPerSecond: number;
  msPerStep: number;
}

function epochLabel(epoch: number, epochs: number | undefined): string {
  return `Epoch ${epoch}${epochs !== undefined ? `/${epochs}` : ''}`;
}

/** The terminal bar: `Epoch 2/10  7/13 [=====>....] ETA 0:01  loss 0.4312  mae 0.8100  412 samples/s  23 ms/step`. */
export function formatBarLine(f: EpochFigures): string {
  const parts = [`${epochLabel(f.epoch, f.epochs)}  ${f.done}/${f.batches} ${formatBar(f.done, f.batches)} ETA ${formatClock(f.etaSeconds)}`, `loss ${formatValue(f.loss)}`];
  for (const [name, value] of Object.entries(f.metrics)) parts.push(`${name} ${formatValue(value)}`);
  parts.push(`${formatRate(f.samplesPerSecond)} samples/s`, `${Math.round(f.msPerStep)} ms/step`);
  return parts.join('  ');
}

/** A periodic line when stderr is no terminal: `Epoch 2/10 - step 7/13 - ETA 0:01 - loss: 0.4312 - … - 2 workers`. */
export function formatPlainLine(f: EpochFigures, workers: number): string {
  const parts = [epochLabel(f.epoch, f.epochs), `step ${f.done}/${f.batches}`, `ETA ${formatClock(f.etaSeconds)}`, `loss: ${formatValue(f.loss)}`];
  for (const [name, value] of Object.entries(f.metrics)) parts.push(`${name}: ${formatValue(value)}`);
  parts.push(`${formatRate(f.samplesPerSecond)} samples/s`, `${Math.round(f.msPerStep)} ms/step`, `${workers} worker${workers === 1 ? '' : 's'}`);
  return parts.join(' - ');
}

/** The worker line under the bar: `workers: 2 alive  58.3 chunks/s`. */
export function formatWorkerLine(alive: number, chunksPerSecond: number | undefined): string {
  return `workers: ${alive} alive${chunksPerSecond !== undefined ? `  ${formatRate(chunksPerSecond)} chunks/s` : ''}`;
}

/** An epoch's one line, as Keras prints it: `Epoch 3/10 - 12s 23ms/step - loss: 0.4312 - mae: 0.8100 - val_loss: … - val_mae: …`. */
export function formatEpochLine(r: EpochReport, msPerStep?: number): string {
  const time = `${formatSeconds(r.seconds)}${msPerStep !== undefined ? ` ${Math.round(msPerStep)}ms/step` : ''}`;
  const parts = [epochLabel(r.epoch, r.epochs), time, `loss: ${formatValue(r.loss)}`];
  for (const [name, value] of Object.entries(r.metrics)) parts.push(`${name}: ${formatValue(value)}`);
  if (r.valLoss !== undefined) parts.push(`val_loss: ${formatValue(r.valLoss)}`);
  for (const [name, value] of Object.entries(r.valMetrics ?? {})) parts.push(`val_${name}: ${formatValue(value)}`);
  return parts.join(' - ');
}

const round = (v: number) => Number(formatValue(v));
const rounded = (m: Record<string, number> | undefined) => Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, round(v)]));

/** The running figures as log fields (`--log-json`), rounded as the plain line rounds them. */
export function progressFields(f: EpochFigures, workers: number): Record<string, unknown> {
  return {
    epoch: f.epoch,
    ...(f.epochs !== undefined ? { epochs: f.epochs } : {}),
    step: f.done,
    steps: f.batches,
    etaSeconds: Number(f.etaSeconds.toFixed(1)),
    loss: round(f.loss),
    metrics: rounded(f.metrics),
    samplesPerSecond: Math.round(f.samplesPerSecond),
    msPerStep: Number(f.msPerStep.toFixed(1)),
    workers,
  };
}

/** An epoch's report as log fields, rounded as the line is (`--log-json`). */
export function epochFields(r: EpochReport): Record<string, unknown> {
  return {
    epoch: r.epoch,
    epochs: r.epochs,
    seconds: Number(r.seconds.toFixed(3)),
    loss: round(r.loss),
    metrics: rounded(r.metrics),
    ...(r.valLoss !== undefined ? { valLoss: round(r.valLoss), valMetrics: rounded(r.valMetrics) } : {}),
  };
}
