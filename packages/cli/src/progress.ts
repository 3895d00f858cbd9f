import cliProgress from 'cli-progress';
import type { EpochReport, StepReport, WorkerEvent } from '@adamant/coordinator';

const fmt = (v: number): string => (Math.abs(v) >= 1000 || Math.abs(v) < 0.001 ? v.toExponential(3) : v.toPrecision(4));

export function formatEpoch(r: EpochReport): string {
  const parts = [`epoch ${String(r.epoch).padStart(String(r.epochs).length)}/${r.epochs}`, `loss ${fmt(r.loss)}`];
  for (const [k, v] of Object.entries(r.metrics)) parts.push(`${k} ${fmt(v)}`);
  if (r.valLoss !== undefined) parts.push(`val_loss ${fmt(r.valLoss)}`);
  for (const [k, v] of Object.entries(r.valMetrics ?? {})) parts.push(`val_${k} ${fmt(v)}`);
  parts.push(`${r.seconds.toFixed(2)} s`);
  return parts.join('  ');
}

/**
 * What a person sees while training: a progress bar for the current epoch on stderr (when it is
 * a terminal) and one summary line per epoch. With `--json` the epoch lines go to stderr so that
 * stdout holds only the final JSON object.
 */
export class TrainingProgress {
  private bar: cliProgress.SingleBar | undefined;
  private workers = 0;

  constructor(
    private readonly json: boolean,
    private readonly interactive = process.stderr.isTTY === true,
  ) {}

  private print(line: string): void {
    (this.json ? process.stderr : process.stdout).write(`${line}\n`);
  }

  worker = (e: WorkerEvent): void => {
    this.workers = e.workers;
    this.bar?.update({ workers: this.workers });
    if (!this.interactive && e.kind === 'left') process.stderr.write(`worker ${e.workerId} left: ${e.reason ?? ''}\n`);
  };

  step = (r: StepReport): void => {
    if (!this.interactive) return;
    if (!this.bar) {
      this.bar = new cliProgress.SingleBar(
        {
          format: 'epoch {epoch} [{bar}] {value}/{total} batches | loss {loss} | {workers} workers',
          stream: process.stderr,
          hideCursor: true,
          clearOnComplete: true,
        },
        cliProgress.Presets.shades_classic,
      );
      this.bar.start(r.batches, 0, { epoch: r.epoch + 1, loss: '-', workers: this.workers });
    }
    this.bar.update(r.batch + 1, { loss: fmt(r.loss), workers: this.workers });
  };

  validate = (e: { epoch: number; samples: number }): void => {
    if (!this.interactive) return;
    this.stop();
    process.stderr.write(`epoch ${e.epoch}: validating on ${e.samples} samples...\r`);
  };

  epoch = (r: EpochReport): void => {
    if (this.interactive) process.stderr.write('\x1b[2K');
    this.stop();
    this.print(formatEpoch(r));
  };

  stop(): void {
    this.bar?.stop();
    this.bar = undefined;
  }
}
