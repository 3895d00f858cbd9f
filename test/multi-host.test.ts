import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { cliPath, housingConfigPath, runCli, tempDir, writeJson } from './support/cli.js';
import { weightBytes } from './support/reference.js';
import { loadJobConfig } from '@adamant/core';

/**
 * The multi-machine path across a real (virtual) network: the coordinator in one network
 * namespace, two workers in another, joined by a veth pair. Addresses come from TEST-NET-1
 * (192.0.2.0/24), which never routes anywhere else; the namespaces are the test's own and are
 * removed at the end. Needs root and iproute2 (CI has both); elsewhere the test says why it skips.
 */
const id = `${process.pid % 10000}`;
const coordinatorNs = `adamant-c${id}`;
const workerNs = `adamant-w${id}`;
const coordinatorIp = '192.0.2.1';
const workerIp = '192.0.2.2';

function ip(...args: string[]): void {
  execFileSync('ip', args, { stdio: 'pipe' });
}

function canMakeNamespaces(): boolean {
  try {
    ip('netns', 'add', `adamant-probe${id}`);
    ip('netns', 'del', `adamant-probe${id}`);
    return true;
  } catch {
    return false;
  }
}

const available = canMakeNamespaces();

describe.skipIf(!available)('coordinator and workers on different hosts (network namespaces)', () => {
  const tmp = tempDir();

  beforeAll(() => {
    ip('netns', 'add', coordinatorNs);
    ip('netns', 'add', workerNs);
    ip('link', 'add', `vc${id}`, 'type', 'veth', 'peer', 'name', `vw${id}`);
    ip('link', 'set', `vc${id}`, 'netns', coordinatorNs);
    ip('link', 'set', `vw${id}`, 'netns', workerNs);
    ip('-n', coordinatorNs, 'addr', 'add', `${coordinatorIp}/24`, 'dev', `vc${id}`);
    ip('-n', workerNs, 'addr', 'add', `${workerIp}/24`, 'dev', `vw${id}`);
    for (const [ns, dev] of [[coordinatorNs, `vc${id}`], [workerNs, `vw${id}`]] as const) {
      ip('-n', ns, 'link', 'set', 'lo', 'up');
      ip('-n', ns, 'link', 'set', dev, 'up');
    }
  });

  afterAll(() => {
    for (const ns of [coordinatorNs, workerNs]) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // Already gone.
      }
    }
    tmp.cleanup();
  });

  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });

  /** Runs the CLI inside a namespace; resolves with its exit code and output. */
  function inNamespace(ns: string, args: string[], onOutput?: (text: string) => void): Promise<{ code: number | null; output: string }> {
    return new Promise((resolve, reject) => {
      // `ip netns exec` execs the command in place, so killing this child kills the CLI.
      const child = spawn('ip', ['netns', 'exec', ns, process.execPath, cliPath, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      children.push(child);
      let output = '';
      const take = (d: Buffer) => {
        output += d.toString();
        onOutput?.(output);
      };
      child.stdout.on('data', take);
      child.stderr.on('data', take);
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`adamant ${args.join(' ')} in ${ns} timed out:\n${output}`));
      }, 120_000);
      child.on('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }

  it('trains across the link to the same bytes as a loopback run', async () => {
    const configPath = writeJson(path.join(tmp.dir, 'job.json'), { ...loadJobConfig(housingConfigPath), epochs: 3 });
    const loopbackOut = path.join(tmp.dir, 'loopback');
    const loopback = await runCli(['train', configPath, '--workers', '2', '--out', loopbackOut]);
    expect(loopback.code, loopback.stderr).toBe(0);

    const out = path.join(tmp.dir, 'networked');
    let workers: Promise<{ code: number | null; output: string }[]> | undefined;
    const coordinator = inNamespace(coordinatorNs, ['coordinator', configPath, '--host', coordinatorIp, '--port', '0', '--min-workers', '2', '--token', 'over-the-wire', '--out', out], (output) => {
      const port = output.match(/listening on 192\.0\.2\.1:(\d+)/)?.[1];
      if (port && !workers) {
        const url = `ws://${coordinatorIp}:${port}`;
        workers = Promise.all([1, 2].map(() => inNamespace(workerNs, ['worker', '--connect', url, '--token', 'over-the-wire', '--connect-timeout', '10'])));
      }
    });
    const done = await coordinator;
    expect(done.code, done.output).toBe(0);
    expect(done.output).toMatch(new RegExp(`worker joined worker=\\S+ \\(${workerIp.replaceAll('.', '\\.')}:\\d+\\)`));
    for (const worker of await workers!) expect(worker.code, worker.output).toBe(0);
    expect(weightBytes(out).equals(weightBytes(loopbackOut))).toBe(true);
  });

  it('a partition (no FIN, no RST): the coordinator drops the silent worker and redoes its chunks; the worker gives up', async () => {
    // 195 steps: under way when the link is cut, and far from done when the coordinator drops the
    // silent worker (until then each step waits at least the 250 ms straggler threshold).
    const configPath = writeJson(path.join(tmp.dir, 'long.json'), { ...loadJobConfig(housingConfigPath), epochs: 15 });
    const referenceOut = path.join(tmp.dir, 'reference');
    const reference = await runCli(['train', configPath, '--workers', '1', '--out', referenceOut]);
    expect(reference.code, reference.stderr).toBe(0);

    const out = path.join(tmp.dir, 'partitioned');
    let started = false;
    let partitioned: Promise<void> | undefined;
    let remote: Promise<{ code: number | null; output: string }> | undefined;
    const coordinator = inNamespace(
      coordinatorNs,
      ['coordinator', configPath, '--host', coordinatorIp, '--port', '0', '--min-workers', '2', '--heartbeat', '2', '--token', 't', '--out', out],
      (output) => {
        const port = output.match(/listening on 192\.0\.2\.1:(\d+)/)?.[1];
        if (port && !started) {
          started = true;
          const url = `ws://${coordinatorIp}:${port}`;
          // One worker beside the coordinator, one across the link.
          void inNamespace(coordinatorNs, ['worker', '--connect', url, '--token', 't']);
          remote = inNamespace(workerNs, ['worker', '--connect', url, '--token', 't', '--reconnect-timeout', '0']);
        }
        if (!partitioned && (output.match(/worker joined/g) ?? []).length === 2) {
          // Cut the link mid-training: the remote worker's packets simply stop arriving.
          partitioned = new Promise((resolve) => setTimeout(resolve, 300)).then(() => ip('-n', workerNs, 'link', 'set', `vw${id}`, 'down'));
        }
      },
    );
    const done = await coordinator;
    await partitioned;
    // The cut-off worker notices too: its coordinator went silent, so it gives up instead of waiting
    // for ever. Awaited before the link comes back up, so silence is all it can have heard.
    const cutOff = await remote!;
    ip('-n', workerNs, 'link', 'set', `vw${id}`, 'up');
    expect(done.code, done.output).toBe(0);
    expect(done.output).toMatch(/worker silent; presumed gone/);
    expect(weightBytes(out).equals(weightBytes(referenceOut))).toBe(true);
    expect(cutOff.code).toBe(1);
    expect(cutOff.output.trim().split('\n').at(-1)).toMatch(/has been silent for 2 s \(heartbeat\); presumed gone \[E_CONNECT\]$/);
  });
});
