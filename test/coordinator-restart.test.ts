import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backgroundClis, housingJob, newestCheckpointStep, runCli, startCli, tempDir, waitFor, writeJson } from './support/cli.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * Standalone workers and a coordinator that comes and goes: workers rejoin the same job after a
 * restart and refuse another; a worker frozen past the heartbeat, a worker joining mid-run and a
 * straggler whose chunks are also computed elsewhere all leave the weights byte-identical.
 */
describe('standalone workers and a coordinator that comes and goes', () => {
  const tmp = tempDir();
  let configPath: string;
  let baseline: string;
  const clis = backgroundClis();
  const start = clis.start;
  const worker = (url: string, env?: NodeJS.ProcessEnv, extra: string[] = []) => start(['worker', '--connect', url, '--token', 'tok', '--reconnect-timeout', '60', ...extra], env);
  async function coordinator(args: string[]) {
    const started = await startCli(['coordinator', ...args, '--host', '127.0.0.1', '--token', 'tok', '--json'], /listening on 127\.0\.0\.1:(\d+)/);
    const { exit } = clis.track(started.child, started.output);
    return { port: Number(started.match[1]), url: `ws://127.0.0.1:${started.match[1]}`, child: started.child, output: started.output, exit };
  }
  const count = (text: string, pattern: RegExp) => (text.match(new RegExp(pattern, 'g')) ?? []).length;

  beforeAll(async () => {
    configPath = housingJob(tmp.dir, { epochs: 4 });
    baseline = await sharedRun(configPath, ['--workers', '1']);
  });
  afterEach(() => clis.killAll());
  afterAll(() => tmp.cleanup());

  it('workers survive a coordinator killed with SIGKILL and rejoin the resumed job; the weights are the undisturbed run\'s', async () => {
    const out = path.join(tmp.dir, 'restarted');
    const first = await coordinator([configPath, '--port', '0', '--min-workers', '2', '--checkpoint-every', '3', '--out', out]);
    const workers = [worker(first.url, { ADAMANT_SLOW_CHUNK_MS: '10' }), worker(first.url, { ADAMANT_SLOW_CHUNK_MS: '10' })];
    const killAt = 3 * (1 + Math.floor(Math.random() * 12));
    await waitFor(() => newestCheckpointStep(out) >= killAt, `a checkpoint at step ${killAt}`);
    first.child.kill('SIGKILL');
    await first.exit;
    const second = await coordinator(['--resume', out, '--port', String(first.port), '--min-workers', '2']);
    expect((await second.exit).code, second.output()).toBe(0);
    for (const w of workers) {
      const { code } = await w.exit;
      expect(code, w.output()).toBe(0);
      expect(w.output()).toMatch(/lost the coordinator/);
    }
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });

  it('a worker whose coordinator comes back running another job refuses to join it (E_JOB)', async () => {
    const out = path.join(tmp.dir, 'other-job');
    const first = await coordinator([configPath, '--port', '0', '--min-workers', '1', '--out', out]);
    const w = worker(first.url, { ADAMANT_SLOW_CHUNK_MS: '10' });
    await waitFor(() => /worker joined/.test(first.output()), 'the worker to join');
    first.child.kill('SIGKILL');
    await first.exit;
    const other = writeJson(path.join(tmp.dir, 'other.json'), { ...JSON.parse(readFileSync(configPath, 'utf8')), seed: 43 });
    const second = await coordinator([other, '--port', String(first.port), '--min-workers', '1', '--out', path.join(tmp.dir, 'other-out')]);
    const { code } = await w.exit;
    expect(code).toBe(1);
    expect(w.output()).toMatch(/served job [0-9a-f]+, this coordinator runs job [0-9a-f]+.*\[E_JOB\]/);
    expect(second.output()).toMatch(/dropping worker.*E_JOB/);
  });

  it('a worker frozen (SIGSTOP) past the heartbeat is dropped, comes back when continued, and changes nothing', async () => {
    const out = path.join(tmp.dir, 'frozen');
    const c = await coordinator([configPath, '--port', '0', '--min-workers', '2', '--heartbeat', '1', '--out', out]);
    const slow = { ADAMANT_SLOW_CHUNK_MS: '30' };
    const steady = worker(c.url, slow);
    const frozen = worker(c.url, slow);
    await waitFor(() => count(c.output(), /worker joined/) === 2 && newestCheckpointStep(out) < 0, 'both workers to join');
    frozen.child.kill('SIGSTOP');
    await waitFor(() => /worker silent; presumed gone/.test(c.output()), 'the coordinator to drop the frozen worker', 20_000);
    frozen.child.kill('SIGCONT');
    await waitFor(() => count(c.output(), /worker joined/) === 3, 'the frozen worker to rejoin', 20_000);
    expect((await c.exit).code, c.output()).toBe(0);
    expect((await steady.exit).code).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });

  it('a worker that joins mid-run takes chunks from the next step on, and changes nothing', async () => {
    const out = path.join(tmp.dir, 'joined');
    const c = await coordinator([configPath, '--port', '0', '--min-workers', '1', '--checkpoint-every', '5', '--out', out]);
    // Slow chunks keep the run going for seconds after step 10, so that the late worker, whose start-up takes seconds on a loaded machine, joins before the end.
    worker(c.url, { ADAMANT_SLOW_CHUNK_MS: '60' });
    await waitFor(() => newestCheckpointStep(out) >= 10, 'ten steps');
    const late = worker(c.url);
    expect((await c.exit).code, c.output()).toBe(0);
    expect((await late.exit).code).toBe(0);
    expect(count(c.output(), /worker joined/)).toBe(2);
    expect(weightBytes(out).equals(weightBytes(baseline))).toBe(true);
  });

  it('a straggler\'s chunks are also computed by an idle worker; the first result wins and the weights are unchanged', async () => {
    const job = writeJson(path.join(tmp.dir, 'two-chunks.json'), { ...JSON.parse(readFileSync(configPath, 'utf8')), epochs: 1, chunkSize: 16 });
    const reference = path.join(tmp.dir, 'two-chunks-reference');
    // The undisturbed run trains while the straggler's run mostly waits on its slow chunks.
    const undisturbed = runCli(['train', job, '--workers', '1', '--out', reference]);
    const out = path.join(tmp.dir, 'straggler');
    const c = await coordinator([job, '--port', '0', '--min-workers', '2', '--out', out]);
    worker(c.url);
    worker(c.url, { ADAMANT_SLOW_CHUNK_MS: '800' });
    expect((await c.exit).code, c.output()).toBe(0);
    expect((await undisturbed).code).toBe(0);
    expect(c.output()).toMatch(/straggler: chunk also given to an idle worker/);
    expect(weightBytes(out).equals(weightBytes(reference))).toBe(true);
  });
});
