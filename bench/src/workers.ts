import { type ChildProcessByStdio, spawn, spawnSync } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import path from 'node:path';
import { referenceJob, root, samplesPerSecond, train } from './cliRuns.js';
import { alternate, median, progress } from './measure.js';
import { type BenchRow, skippedRow, withTarget } from './results.js';
import { CHUNK, REFERENCE } from './textModels.js';
import { torchAvailable, torchTokensPerSecond } from './torch.js';

const SECTION = 'workers';
/** Batches of 64 per run: enough that start-up weighs little in the steps' time, few enough that a round takes seconds. */
const BATCHES = 20;
const ROUNDS = 3;

const tokens = (samplesPerSec: number) => samplesPerSec * REFERENCE.length;

/** The median of each part of the steps' timelines (StepTimeLog's debug lines), in words. */
function timelineOf(steps: readonly Record<string, number>[]): string {
  if (!steps.length) return 'no step timeline logged';
  const parts = ['stepMs', 'computeMs', 'waitingMs', 'transferMs', 'sendMs', 'updateMs', 'serialMs'];
  return parts
    .filter((part) => steps.some((step) => part in step))
    .map((part) => `${part.replace('Ms', '')} ${median(steps.flatMap((step) => (part in step ? [step[part]!] : []))).toFixed(1)}`)
    .join(', ');
}

/** Whether `adamant train` takes `--gemm` (issue 13's engines). */
function hasGemmFlag(): boolean {
  const help = spawnSync(process.execPath, [path.join(root, 'packages/cli/dist/bin.js'), 'train', '--help'], { encoding: 'utf8' });
  return help.stdout.includes('--gemm');
}

/**
 * `adamant train --workers 2` against `--workers 1` on the reference model (real processes on
 * loopback), and, where python3-torch is installed, PyTorch on CPU in the same alternation.
 */
async function workerRows(job: string, data: string): Promise<BenchRow[]> {
  const sizes = `spam example's job (reference model), ${BATCHES} batches of 64 x 100 tokens from ${data}, chunks of 32, default engine`;
  const withTorch = torchAvailable();
  progress(`workers: --workers 1 and 2${withTorch ? ' and PyTorch' : ''}, ${ROUNDS} rounds of ${BATCHES} batches`);
  const steps: Record<'one' | 'two', Record<string, number>[]> = { one: [], two: [] };
  const run = (workers: 'one' | 'two') => {
    const summary = train(job, ['--workers', workers === 'one' ? '1' : '2'], { timeline: true });
    steps[workers].push(...(summary.steps ?? []));
    return tokens(samplesPerSecond(summary));
  };
  const candidates: Record<string, () => number> = { one: () => run('one'), two: () => run('two') };
  if (withTorch) {
    candidates.torch1 = () => torchTokensPerSecond(1, BATCHES);
    candidates.torch2 = () => torchTokensPerSecond(2, BATCHES);
  }
  const timing = await alternate(candidates, ROUNDS);
  const measured = (name: string, label: string) => ({ label, value: timing.median[name]!, unit: 'tok/s' });
  const rows: BenchRow[] = [
    withTarget(
      {
        section: SECTION,
        name: 'adamant train --workers 2 vs --workers 1',
        sizes,
        a: measured('two', '--workers 2'),
        b: measured('one', '--workers 1'),
        ratio: timing.ratio('two', 'one'),
        note: `per round: ${timing.rates.two!.map((two, k) => (two / timing.rates.one![k]!).toFixed(2)).join(', ')}. Median step, ms: 1 worker ${timelineOf(steps.one)}; 2 workers ${timelineOf(steps.two)}`,
      },
      1.85,
    ),
  ];
  const torchSizes = 'the reference model on random tokens, batch 64 x 100, PyTorch on CPU (Debian python3-torch)';
  if (!withTorch) {
    rows.push(skippedRow(SECTION, 'adamant vs PyTorch, one process and DDP with two', torchSizes, 'skipped: python3-torch not installed'));
    return rows;
  }
  rows.push(
    { section: SECTION, name: 'adamant --workers 1 vs PyTorch, one process', sizes: torchSizes, a: measured('one', '--workers 1'), b: measured('torch1', 'PyTorch, one process'), ratio: timing.ratio('one', 'torch1') },
    { section: SECTION, name: 'adamant --workers 2 vs PyTorch DDP, two processes', sizes: torchSizes, a: measured('two', '--workers 2'), b: measured('torch2', 'PyTorch DDP (gloo), 2 processes'), ratio: timing.ratio('two', 'torch2') },
  );
  return rows;
}

/** One worker with `--gemm openblas` against `--gemm wasm` (real processes), once the CLI has the flag. */
async function gemmRow(job: string, data: string): Promise<BenchRow> {
  const name = 'one worker: --gemm openblas vs --gemm wasm';
  const sizes = `spam example's job (reference model), ${BATCHES} batches of 64 x 100 tokens from ${data}, --workers 1`;
  if (!hasGemmFlag()) return skippedRow(SECTION, name, sizes, 'skipped: adamant train has no --gemm flag yet (see the lstm rows for the engines through the library)');
  progress(`workers: --gemm openblas and wasm, ${ROUNDS} rounds`);
  const timing = await alternate(
    {
      openblas: () => tokens(samplesPerSecond(train(job, ['--workers', '1', '--gemm', 'openblas']))),
      wasm: () => tokens(samplesPerSecond(train(job, ['--workers', '1', '--gemm', 'wasm']))),
    },
    ROUNDS,
  );
  return withTarget(
    {
      section: SECTION,
      name,
      sizes,
      a: { label: '--gemm openblas', value: timing.median.openblas, unit: 'tok/s' },
      b: { label: '--gemm wasm', value: timing.median.wasm, unit: 'tok/s' },
      ratio: timing.ratio('openblas', 'wasm'),
      note: 'training tokens/s from --json, the coordinator and its Adam included',
    },
    2,
  );
}

type ComputeChild = ChildProcessByStdio<Writable, Readable, null>;

/** Starts a computeProcess.js child and resolves once it has warmed up (its "ready" line). */
async function computeChild(chunks: number, steps: number): Promise<{ child: ComputeChild; lines: AsyncIterator<string> }> {
  const script = fileURLToPath(new URL('./computeProcess.js', import.meta.url));
  const child = spawn(process.execPath, [script, String(chunks), String(steps)], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  if (first.done || first.value !== 'ready') throw new Error(`computeProcess ${chunks} ${steps} did not start (${first.value ?? 'no output'})`);
  return { child, lines };
}

/**
 * Tokens/s of `processes` processes computing fused steps at once (no coordinator, no messages):
 * each takes its share of a batch's 2 chunks. Each process reports its own time; the rate
 * counts all tokens over the slowest one's time.
 */
async function computeRate(processes: 1 | 2, steps: number): Promise<number> {
  const chunks = 2 / processes;
  const children = await Promise.all(Array.from({ length: processes }, () => computeChild(chunks, steps)));
  for (const { child } of children) child.stdin.write('go\n');
  const times = await Promise.all(
    children.map(async ({ child, lines }) => {
      const line = await lines.next();
      child.stdin.end();
      if (line.done) throw new Error('computeProcess exited without its time');
      return Number(line.value);
    }),
  );
  return (steps * 2 * CHUNK * REFERENCE.length) / (Math.max(...times) / 1000);
}

/**
 * The ceiling of the scaling row on this machine: the fused compute of 2 processes against 1, with
 * nothing else running, so that what `--workers 2` loses beyond it is the coordinator's share of
 * the cores and the wait for the slower worker.
 */
async function computeCeilingRow(): Promise<BenchRow> {
  progress(`workers: compute ceiling, 1 and 2 processes, ${ROUNDS} rounds of ${BATCHES} batches`);
  const timing = await alternate({ two: () => computeRate(2, BATCHES), one: () => computeRate(1, BATCHES) }, ROUNDS);
  return {
    section: SECTION,
    name: 'fused compute alone, 2 processes at once vs 1 (the ceiling of --workers 2 here)',
    sizes: `reference model, ${BATCHES} batches of 64 x 100 random tokens, chunks of 32: one process computes both chunks of a batch, or two processes one each; default engine, no coordinator`,
    a: { label: '2 processes', value: timing.median.two, unit: 'tok/s' },
    b: { label: '1 process', value: timing.median.one, unit: 'tok/s' },
    ratio: timing.ratio('two', 'one'),
    note: `per round: ${timing.rates.two.map((two, k) => (two / timing.rates.one[k]!).toFixed(2)).join(', ')}`,
  };
}

/** Rows 2, 3 and 7 of issue 13: worker scaling, the engines end to end, and PyTorch where installed. */
export async function benchWorkers(): Promise<BenchRow[]> {
  const bench = referenceJob(REFERENCE, BATCHES);
  try {
    return [...(await workerRows(bench.job, bench.data)), await computeCeilingRow(), await gemmRow(bench.job, bench.data)];
  } finally {
    bench.dispose();
  }
}
