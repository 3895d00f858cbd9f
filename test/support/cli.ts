import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkpointFiles } from '@adamant/core';

export const repoRoot = fileURLToPath(new URL('../..', import.meta.url));
export const cliPath = path.join(repoRoot, 'packages/cli/dist/bin.js');
export const housingConfigPath = path.join(repoRoot, 'examples/housing/job.json');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the built `adamant` CLI as a real process and collects its output. */
export function runCli(args: string[], options: { timeoutMs?: number; env?: NodeJS.ProcessEnv; cwd?: string } = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], {
      cwd: options.cwd ?? repoRoot,
      env: { ...process.env, ...options.env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`adamant ${args.join(' ')} timed out\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** Starts the CLI and resolves once a line of stderr matches `ready` (e.g. the "listening" line). */
export function startCli(args: string[], ready: RegExp, env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; match: RegExpMatchArray; output: () => string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`adamant ${args.join(' ')} did not print ${ready} in time:\n${output}`));
    }, 60_000);
    const onData = (d: Buffer) => {
      output += d.toString();
      const match = output.match(ready);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output });
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`adamant ${args.join(' ')} exited with ${code} before ${ready}:\n${output}`));
    });
  });
}

/** The last line of stdout, parsed as the `--json` result object. */
export function jsonResult(result: CliResult): Record<string, unknown> {
  const lines = result.stdout.trim().split('\n');
  return JSON.parse(lines.at(-1) ?? '') as Record<string, unknown>;
}

/** A temporary directory removed by the returned cleanup function. */
export function tempDir(prefix = 'adamant-test-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Writes a JSON file and returns its path. */
export function writeJson(file: string, value: unknown): string {
  writeFileSync(file, JSON.stringify(value, null, 2));
  return file;
}

export interface RunningCli {
  child: ChildProcess;
  /** stdout and stderr so far, interleaved. */
  output: () => string;
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Starts the CLI in the background; the caller kills it or awaits `exit`. */
export function spawnCli(args: string[], env?: NodeJS.ProcessEnv): RunningCli {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
  return { child, output: () => output, exit };
}

/** Waits until `condition` holds, checking every 20 ms, or fails after `timeoutMs` naming `what`. */
export async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The pids of a process's children (Linux /proc), e.g. the workers of `adamant train`. */
export function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** Whether a process is still running: it exists and is not a zombie waiting to be reaped. */
export function alive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

/**
 * The housing example's config written into `dir` as job.json, with its data path made absolute
 * and `overrides` applied (epochs, batch size, …). Returns the file's path.
 */
export function housingJob(dir: string, overrides: Record<string, unknown> = {}, name = 'job.json'): string {
  const housing = JSON.parse(readFileSync(housingConfigPath, 'utf8')) as { data: { path: string } };
  return writeJson(path.join(dir, name), {
    ...housing,
    data: { ...housing.data, path: path.resolve(path.dirname(housingConfigPath), housing.data.path) },
    ...overrides,
  });
}

/** A run directory's checkpoint files, oldest first (core's own listing, which skips half-written files). */
export function checkpointsOf(out: string): string[] {
  return checkpointFiles(path.join(out, 'checkpoints')).reverse();
}

/** The global step of a run's newest checkpoint, or -1 while it has none. */
export function newestCheckpointStep(out: string): number {
  const newest = checkpointFiles(path.join(out, 'checkpoints'))[0];
  return newest ? Number(/step-(\d+)\.ckpt$/.exec(newest)?.[1]) : -1;
}

/**
 * The CLI processes a test starts in the background: `start` spawns one, `track` adopts one
 * started otherwise, and `killAll` (for afterEach) kills whatever is left.
 */
export function backgroundClis() {
  let running: RunningCli[] = [];
  return {
    start(args: string[], env?: NodeJS.ProcessEnv): RunningCli {
      const cli = spawnCli(args, env);
      running.push(cli);
      return cli;
    },
    track(child: ChildProcess, output: () => string): RunningCli {
      const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
      const cli = { child, output, exit };
      running.push(cli);
      return cli;
    },
    killAll(): void {
      for (const cli of running) cli.child.kill('SIGKILL');
      running = [];
    },
  };
}
