import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { housingJob, startCli, tempDir } from './support/cli.js';
import { rawPeer } from './support/rawPeer.js';
import { weightBytes } from './support/reference.js';
import { sharedRun } from './support/sharedRuns.js';

/**
 * No sample is lost or counted twice when a worker dies mid-step: its chunks go to the others,
 * and since a chunk's gradient does not depend on who computes it, the final weights are
 * bitwise those of an undisturbed run.
 */
describe('a worker that dies in the middle of a step', () => {
  const tmp = tempDir();
  let configPath: string;
  let baselineDir: string;
  let stop: (() => void)[] = [];

  beforeAll(async () => {
    configPath = housingJob(tmp.dir, { epochs: 3 });
    baselineDir = await sharedRun(configPath, ['--workers', '1']);
  });
  afterEach(() => {
    for (const f of stop) f();
    stop = [];
  });
  afterAll(() => tmp.cleanup());

  async function startCoordinator(out: string, minWorkers: number, extra: string[] = []) {
    const started = await startCli(
      ['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token', 'tok', '--min-workers', String(minWorkers), '--out', out, '--json', ...extra],
      /listening on 127\.0\.0\.1:(\d+)/,
    );
    stop.push(() => started.child.kill('SIGKILL'));
    const exited = new Promise<number | null>((r) => started.child.on('exit', r));
    return { url: `ws://127.0.0.1:${started.match[1]}`, exited, output: started.output };
  }

  it('takes chunks, then vanishes without answering: its chunks are recomputed elsewhere', async () => {
    const out = path.join(tmp.dir, 'vanished');
    const coordinator = await startCoordinator(out, 2);
    // A peer that joins, receives its share of the first step, and drops the connection.
    const deserter = await rawPeer(coordinator.url);
    deserter.hello('tok', 'deserter');
    const tookChunks = (async () => {
      for (;;) {
        const message = await deserter.next();
        if (!('type' in message)) throw new Error(`closed: ${message.reason}`);
        if (message.type === 'welcome') deserter.send({ type: 'ready', backend: 'cpu' });
        if (message.type === 'step') {
          deserter.socket.terminate();
          return message.chunks.length;
        }
      }
    })();
    const worker = startCli(['worker', '--connect', coordinator.url, '--token', 'tok'], /training finished/);
    expect(await tookChunks).toBeGreaterThan(0);
    await worker;
    expect(await coordinator.exited).toBe(0);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });

  it('a worker process killed with SIGKILL while it owes chunks changes nothing', async () => {
    const out = path.join(tmp.dir, 'killed');
    // Without straggler copies: the frozen victim's chunks must stay its own until it is killed.
    const coordinator = await startCoordinator(out, 2, ['--log-level', 'debug', '--no-duplicate-stragglers']);
    const survivor = startCli(['worker', '--connect', coordinator.url, '--token', 'tok'], /training finished/);
    const victim = await startCli(['worker', '--connect', coordinator.url, '--token', 'tok'], /joined/);
    stop.push(() => victim.child.kill('SIGKILL'));
    // Once the coordinator counts it as ready, freeze the victim, then wait until it owes chunks:
    // the last step the coordinator sent it chunks of stays unfinished, which only a frozen
    // worker's missing answers can cause (the survivor answers within milliseconds).
    const pid = victim.child.pid;
    await expect.poll(() => new RegExp(`worker joined worker=\\S+:${pid} `).test(coordinator.output()), { timeout: 30_000 }).toBe(true);
    victim.child.kill('SIGSTOP');
    const sentToVictim = new RegExp(`chunks sent worker=\\S+:${pid} \\(.*step=(\\d+) chunks=`, 'g');
    const lastStepSent = () => [...coordinator.output().matchAll(sentToVictim)].at(-1)?.[1];
    const finished = (step: string) => new RegExp(`step timeline step=${step} `).test(coordinator.output());
    await expect
      .poll(
        async () => {
          const step = lastStepSent();
          if (step === undefined || finished(step)) return false;
          await new Promise((r) => setTimeout(r, 500));
          return lastStepSent() === step && !finished(step);
        },
        { timeout: 30_000 },
      )
      .toBe(true);
    victim.child.kill('SIGKILL');
    await survivor;
    expect(await coordinator.exited).toBe(0);
    const left = coordinator.output().match(/worker left .*reassigned=(\d+)/);
    expect(Number(left?.[1])).toBeGreaterThanOrEqual(1);
    expect(coordinator.output()).toMatch(/"steps":39/);
    expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
  });
});
