
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { housingJob, runCli, startCli, tempDir } from './support/cli.js';
import { weightBytes } from './support/reference.js';

/**
 * Issue 8: a worker computes on a thread of its own, so a chunk that takes longer than the
 * heartbeat no longer silences it. Its main thread keeps answering the coordinator's pings, the
 * coordinator keeps it, and the result is bitwise that of an undelayed run.
 */
describe('a chunk slower than the heartbeat', () => {
  const tmp = tempDir();
  let configPath: string;
  const baselineDir = path.join(tmp.dir, 'baseline');

  beforeAll(async () => {
    // One step of two chunks (404 training rows): two chunks of 2.5 s each under a 1 s heartbeat.
    configPath = housingJob(tmp.dir, { epochs: 1, batchSize: 512, chunkSize: 256 });
    const baseline = await runCli(['train', configPath, '--workers', '1', '--out', baselineDir]);
    expect(baseline.code, baseline.stderr).toBe(0);
  });
  afterAll(() => tmp.cleanup());

  it('does not get the worker dropped, and changes no bit of the result', async () => {
    const out = path.join(tmp.dir, 'slow');
    const coordinator = await startCli(
      ['coordinator', configPath, '--port', '0', '--host', '127.0.0.1', '--token', 'tok', '--heartbeat', '1', '--out', out],
      /listening on 127\.0\.0\.1:(\d+)/,
    );
    try {
      const exited = new Promise<number | null>((r) => coordinator.child.on('exit', r));
      const worker = await runCli(['worker', '--connect', `ws://127.0.0.1:${coordinator.match[1]}`, '--token', 'tok'], {
        env: { ADAMANT_SLOW_CHUNK_MS: '2500' },
        timeoutMs: 30_000,
      });
      expect(worker.code, worker.stderr).toBe(0);
      expect(worker.stderr).toMatch(/training finished .*steps=1 chunks=2 samples=404 reconnects=0/);
      expect(await exited).toBe(0);
      expect(coordinator.output()).not.toMatch(/worker left|silent/);
      expect(weightBytes(out).equals(weightBytes(baselineDir))).toBe(true);
    } finally {
      coordinator.child.kill('SIGKILL');
    }
  });
});
