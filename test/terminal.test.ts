import path from 'node:path';
import { spawn as spawnTerminal } from '@lydell/node-pty';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, housingJob, repoRoot, runCli, tempDir, waitFor } from './support/cli.js';

const HIDE_CURSOR = '\x1b[?25l';
const SHOW_CURSOR = '\x1b[?25h';

/** `adamant ARGS` under a pseudo-terminal, as a person at a shell runs it: stdout and stderr are the terminal. */
function runInTerminal(args: string[]) {
  const terminal = spawnTerminal(process.execPath, [cliPath, ...args], { cols: 160, rows: 40, cwd: repoRoot, env: { ...process.env } as Record<string, string> });
  let output = '';
  terminal.onData((data) => {
    output += data;
  });
  const exit = new Promise<number>((resolve) => terminal.onExit(({ exitCode }) => resolve(exitCode)));
  return { output: () => output, exit, write: (data: string) => terminal.write(data), kill: () => terminal.kill('SIGKILL') };
}

/** The output with each escape sequence and carriage return turned into a line break: what was drawn, line by line. */
const ESCAPE_SEQUENCE = new RegExp(`${HIDE_CURSOR[0]}\\[[0-9;?]*[A-Za-z]`, 'g');
function drawnLines(output: string): string {
  return output.replace(ESCAPE_SEQUENCE, '\n').replace(/\r/g, '\n');
}

/** The cursor is visible at the end: every hide is followed by a show. */
function cursorVisibleAtEnd(output: string): boolean {
  return output.lastIndexOf(SHOW_CURSOR) > output.lastIndexOf(HIDE_CURSOR);
}

// The bar's line: step/steps, bar, ETA, running loss and metric, samples/s, step time (issue 12).
const BAR = /Epoch 1\/3 {2}\d+\/13 \[=*>?\.*\] ETA \d+:\d\d {2}loss \d+\.\d{4} {2}mae \d+\.\d{4} {2}\d+(\.\d+)? samples\/s {2}\d+ ms\/step/;
const EPOCH_LINE = /^Epoch (\d)\/3 - \d+\.\ds \d+ms\/step - loss: \d+\.\d{4} - mae: \d+\.\d{4} - val_loss: \d+\.\d{4} - val_mae: \d+\.\d{4}$/gm;

describe('terminal progress (issue 12)', () => {
  const tmp = tempDir();
  let config: string;
  beforeAll(() => {
    config = housingJob(tmp.dir, { epochs: 3 });
  });
  afterAll(() => tmp.cleanup());

  it('on a terminal draws a Keras-style bar with ETA and metrics, a worker line, and each epoch once', async () => {
    const run = runInTerminal(['train', config, '--workers', '2', '--out', path.join(tmp.dir, 'tty')]);
    expect(await run.exit, run.output()).toBe(0);
    const output = run.output();
    expect(output).toMatch(BAR);
    expect(output).toMatch(/workers: 2 alive {2}\d+(\.\d+)? chunks\/s/);
    expect([...drawnLines(output).matchAll(EPOCH_LINE)].map((m) => m[1])).toEqual(['1', '2', '3']);
    expect(output).toContain(HIDE_CURSOR);
    expect(cursorVisibleAtEnd(output)).toBe(true);
  });

  it('without a terminal prints plain periodic lines and the epoch lines, with no escape codes', async () => {
    const result = await runCli(['train', config, '--workers', '2', '--out', path.join(tmp.dir, 'pipe'), '--progress-every', '0.05']);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^Epoch \d\/3 - step \d+\/13 - ETA \d+:\d\d - loss: \d+\.\d{4} - mae: \d+\.\d{4} - \d+(\.\d+)? samples\/s - \d+ ms\/step - 2 workers$/m);
    expect([...result.stdout.matchAll(EPOCH_LINE)].map((m) => m[1])).toEqual(['1', '2', '3']);
    expect(result.stdout + result.stderr).not.toContain('\x1b');
  });

  it('Ctrl-C stops the run with a checkpoint and leaves the cursor visible', async () => {
    const run = runInTerminal(['train', housingJob(tmp.dir, { epochs: 500 }, 'long.json'), '--workers', '2', '--out', path.join(tmp.dir, 'interrupted')]);
    try {
      await waitFor(() => /ETA \d+:\d\d/.test(run.output()), 'the progress bar', 60_000);
      run.write('\x03');
      expect(await run.exit, run.output()).toBe(130);
    } finally {
      run.kill();
    }
    const output = run.output();
    expect(output).toMatch(/stopped by SIGINT at epoch \d+, batch \d+ \(step \d+\); checkpoint \S+step-\d+\.ckpt/);
    expect(cursorVisibleAtEnd(output)).toBe(true);
  });
});
