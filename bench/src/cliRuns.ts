import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@adamant/core';
import type { Shape } from './textModels.js';

export const root = fileURLToPath(new URL('../..', import.meta.url));
const bin = path.join(root, 'packages/cli/dist/bin.js');
const spamJob = path.join(root, 'examples/spam/job.json');
const spamData = path.join(root, 'examples/spam/data/spam.jsonl');

/** What `adamant train --json` prints last that the benchmarks read. */
export interface TrainSummary {
  samples: number;
  trainingSeconds: number;
  seconds: number;
  valLoss: number | null;
  valMetrics: Record<string, number>;
  /** With `timeline`: each training step's 'step timeline' debug line (milliseconds by part), step 0 left out. */
  steps?: Record<string, number>[];
}

/**
 * Runs `adamant train <job> <args> --json` to the end and returns its summary (throws with its
 * stderr if it fails). With `timeline`, it logs at debug level and returns the coordinator's step
 * timelines too.
 */
export function train(job: string, args: readonly string[], { timeline = false } = {}): TrainSummary {
  const out = mkdtempSync(path.join(tmpdir(), 'adamant-bench-out-'));
  try {
    const logging = timeline ? ['--log-level', 'debug', '--log-json'] : ['--quiet'];
    const run = spawnSync(process.execPath, [bin, 'train', job, ...args, ...logging, '--json', '--out', out], { encoding: 'utf8', maxBuffer: 1 << 28 });
    if (run.status !== 0) throw new Error(`adamant train ${path.basename(job)} ${args.join(' ')} failed (${run.status}): ${run.stderr.trim().split('\n').slice(-5).join('\n')}`);
    const summary = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as TrainSummary;
    if (timeline) summary.steps = stepTimelines(run.stderr);
    return summary;
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
}

/** The 'step timeline' lines of a run's JSON log, but the first step's (start-up). */
function stepTimelines(stderr: string): Record<string, number>[] {
  const steps: Record<string, number>[] = [];
  for (const line of stderr.split('\n')) {
    if (!line.includes('"step timeline"')) continue;
    const entry = JSON.parse(line) as Record<string, unknown>;
    if (entry.step === 0) continue;
    steps.push(Object.fromEntries(Object.entries(entry).filter(([key, value]) => key.endsWith('Ms') && typeof value === 'number')) as Record<string, number>);
  }
  return steps;
}

/** Training samples per second of a run: samples over the time spent inside its steps (no start-up, no validation). */
export const samplesPerSecond = (summary: TrainSummary): number => summary.samples / summary.trainingSeconds;

/** A job of the reference model for a few benchmark steps, in a directory of its own. */
export interface BenchJob {
  job: string;
  /** Where its texts came from, for the row's sizes. */
  data: string;
  dispose(): void;
}

/**
 * The spam example's job (the reference model) cut to `batches` batches of one epoch with no
 * validation: the first batches x 64 emails of examples/spam/data when prepared (pnpm prepare),
 * or else random texts of the same shape (the tokens/s are nearly the same; the table rows a step
 * carries differ).
 */
export function referenceJob(shape: Shape, batches: number): BenchJob {
  const dir = mkdtempSync(path.join(tmpdir(), 'adamant-bench-job-'));
  const rows = shape.batch * batches;
  let lines: string[];
  let data: string;
  if (existsSync(spamData)) {
    lines = readFileSync(spamData, 'utf8').split('\n').filter(Boolean).slice(0, rows);
    data = `the first ${lines.length} emails of examples/spam`;
  } else {
    const random = mulberry32(3);
    const words = () => Array.from({ length: shape.length }, () => `w${Math.floor(random() * shape.vocabulary * 2)}`).join(' ');
    lines = Array.from({ length: rows }, () => JSON.stringify({ text: words(), label: random() < 0.4 ? 1 : 0 }));
    data = `${rows} random texts (examples/spam/data not prepared)`;
  }
  writeFileSync(path.join(dir, 'texts.jsonl'), `${lines.join('\n')}\n`);
  const spam = JSON.parse(readFileSync(spamJob, 'utf8')) as Record<string, unknown> & { data: Record<string, unknown> };
  const job = { ...spam, epochs: 1, validationSplit: 0, data: { ...spam.data, path: 'texts.jsonl' } };
  writeFileSync(path.join(dir, 'job.json'), JSON.stringify(job));
  return { job: path.join(dir, 'job.json'), data, dispose: () => rmSync(dir, { recursive: true, force: true }) };
}
