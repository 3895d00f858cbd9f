import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { root } from './cliRuns.js';

const script = path.join(root, 'bench/torch/reference_lstm.py');

/** Whether Debian's python3-torch (or any torch python3 imports) is installed. */
export function torchAvailable(): boolean {
  const probe = spawnSync('python3', ['-c', 'import torch'], { stdio: 'ignore' });
  return probe.status === 0;
}

/** Training tokens/s of the reference model in PyTorch on CPU: one process, or DistributedDataParallel with two (bench/torch/reference_lstm.py). */
export function torchTokensPerSecond(processes: 1 | 2, batches: number): number {
  const run = spawnSync('python3', [script, '--processes', String(processes), '--batches', String(batches)], { encoding: 'utf8' });
  if (run.status !== 0) throw new Error(`${path.basename(script)} --processes ${processes} failed (${run.status}): ${run.stderr.trim().split('\n').slice(-3).join('\n')}`);
  const { tokensPerSecond } = JSON.parse(run.stdout.trim().split('\n').at(-1)!) as { tokensPerSecond: number };
  return tokensPerSecond;
}
