import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import { networkInterfaces } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { backgroundClis, cliPath, housingJob, jsonResult, repoRoot, runCli, startCli, tempDir, waitFor } from './support/cli.js';

/** A CLI process with its stdout and stderr kept apart (the JSON-lines checks read stderr alone). */
function startSeparated(args: string[], env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, exit, stdout: () => stdout, stderr: () => stderr };
}

/** Every line of `text` parsed as JSON; fails naming the first line that is not. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

describe('operating a run (issue 12)', () => {
  const tmp = tempDir();
  const clis = backgroundClis();
  let config: string;
  beforeAll(() => {
    config = housingJob(tmp.dir, { epochs: 2 });
  });
  afterEach(() => clis.killAll());
  afterAll(() => tmp.cleanup());

  it('--log-json: every stderr line of train and of its workers is JSON naming its role, with one numbering of workers', async () => {
    const run = await runCli(['train', config, '--workers', '2', '--log-json', '--log-level', 'debug', '--json', '--out', path.join(tmp.dir, 'logjson')]);
    expect(run.code, run.stderr).toBe(0);
    expect(run.stdout.trim().split('\n')).toHaveLength(1);
    expect(jsonResult(run).workers).toBe(2);
    const lines = jsonLines(run.stderr);
    for (const line of lines) expect(['coordinator', 'worker'], JSON.stringify(line)).toContain(line.role);
    const joinedIds = lines.filter((l) => l.role === 'coordinator' && l.msg === 'worker joined').map((l) => l.id);
    const workerIds = new Set(lines.filter((l) => l.role === 'worker' && l.worker !== undefined).map((l) => l.worker));
    expect(joinedIds.sort()).toEqual([1, 2]);
    expect([...workerIds].sort()).toEqual([1, 2]);
    // The worker's own "joined" line carries the id the coordinator's line gave it.
    for (const l of lines.filter((l) => l.role === 'worker' && l.msg === 'joined')) expect(l.worker).toBe(l.workerId);
    expect(lines.some((l) => l.role === 'coordinator' && l.msg === 'epoch' && l.epoch === 2)).toBe(true);
  });

  it('a coordinator with --log-json announces itself as JSON; a worker configured only by environment variables logs JSON too', async () => {
    const coordinator = startSeparated(['coordinator', config, '--host', '127.0.0.1', '--port', '0', '--token', 'tok', '--log-json', '--json', '--out', path.join(tmp.dir, 'env')]);
    clis.track(coordinator.child, coordinator.stderr);
    await waitFor(() => coordinator.stderr().includes('"msg":"listening"'), 'the listening record', 60_000);
    const listening = jsonLines(coordinator.stderr()).find((l) => l.msg === 'listening')!;
    expect(listening).toMatchObject({ role: 'coordinator', host: '127.0.0.1', addresses: ['127.0.0.1'] });
    const url = /--connect (\S+)/.exec((listening.workerCommands as string[])[0]!)?.[1];
    expect(url).toBe(`ws://127.0.0.1:${listening.port}`);

    const worker = await runCli(['worker'], { env: { ADAMANT_CONNECT: url, ADAMANT_TOKEN: 'tok', ADAMANT_LOG_JSON: '1', ADAMANT_LOG_LEVEL: 'debug' } });
    expect(worker.code, worker.stderr).toBe(0);
    expect(await coordinator.exit, coordinator.stderr()).toBe(0);
    const workerLines = jsonLines(worker.stderr);
    for (const line of workerLines) expect(line.role).toBe('worker');
    const id = jsonLines(coordinator.stderr()).find((l) => l.msg === 'worker joined')?.id;
    expect(workerLines.find((l) => l.msg === 'training finished')).toMatchObject({ worker: id, workerId: id });
    // ADAMANT_LOG_LEVEL=debug: the per-step lines are there.
    expect(workerLines.some((l) => l.level === 20 && l.msg === 'step computed')).toBe(true);
    for (const line of jsonLines(coordinator.stderr())) expect(line.role).toBe('coordinator');
    expect(jsonLines(coordinator.stdout())).toHaveLength(1);
  });

  // The next four are one or two short processes each, with nothing left running: they run side by side.
  it.concurrent('worker --help names the environment variable of each option', async () => {
    const help = await runCli(['worker', '--help']);
    expect(help.code).toBe(0);
    for (const name of ['ADAMANT_CONNECT', 'ADAMANT_TOKEN', 'ADAMANT_TOKEN_FILE', 'ADAMANT_BACKEND', 'ADAMANT_LOG_LEVEL', 'ADAMANT_LOG_JSON']) expect(help.stdout).toContain(`env: ${name})`);
  });

  it.concurrent('a port in use is E_ADDRINUSE with a hint, as text and as JSON', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const args = ['coordinator', config, '--host', '127.0.0.1', '--port', String(port), '--token', 't', '--out', path.join(tmp.dir, 'inuse')];
      const [text, json] = await Promise.all([runCli(args), runCli([...args, '--log-json'])]);
      expect(text.code).toBe(1);
      expect(text.stderr.trim().split('\n').at(-1)).toBe(`adamant: port ${port} is in use on 127.0.0.1; pick another --port (0 picks a free one) or stop the other process [E_ADDRINUSE]`);
      expect(json.code).toBe(1);
      expect(jsonLines(json.stderr).at(-1)).toMatchObject({ level: 50, role: 'coordinator', code: 'E_ADDRINUSE', fatal: true });
    } finally {
      taken.close();
    }
  });

  it.concurrent('an --out that cannot be written is E_ACCESS before any training', async () => {
    const file = path.join(tmp.dir, 'a-file');
    writeFileSync(file, '');
    const run = await runCli(['train', config, '--workers', '1', '--out', path.join(file, 'run')]);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(/adamant: --out \S+a-file\/run: cannot write there \(a file is in the way\); .* \[E_ACCESS\]\n$/);
  });

  it.concurrent('--epochs 0 --json reports no workers, since none was started', async () => {
    const run = await runCli(['train', config, '--epochs', '0', '--json', '--out', path.join(tmp.dir, 'zero')]);
    expect(run.code, run.stderr).toBe(0);
    expect(jsonResult(run)).toMatchObject({ epochs: 0, steps: 0, workers: 0 });
  });

  it('warns once when more workers join than a step has chunks', async () => {
    const small = housingJob(tmp.dir, { epochs: 1, batchSize: 8, chunkSize: 4 }, 'small.json');
    const run = await runCli(['train', small, '--workers', '3', '--out', path.join(tmp.dir, 'idle')]);
    expect(run.code, run.stderr).toBe(0);
    const warnings = run.stderr.match(/WARN {2}3 workers for 2 chunks per step \(batchSize 8, chunkSize 4\): 1 of them will sit idle/g) ?? [];
    expect(warnings).toHaveLength(1);
  });

  it('a worker that leaves is logged once, and each epoch is reported once', async () => {
    const long = housingJob(tmp.dir, { epochs: 12 }, 'long.json');
    const coordinator = clis.start(['coordinator', long, '--host', '127.0.0.1', '--port', '0', '--token', 'tok', '--min-workers', '2', '--out', path.join(tmp.dir, 'left')]);
    await waitFor(() => /listening on 127\.0\.0\.1:\d+/.test(coordinator.output()), 'the banner', 60_000);
    const url = `ws://127.0.0.1:${/listening on 127\.0\.0\.1:(\d+)/.exec(coordinator.output())![1]}`;
    const survivor = clis.start(['worker', '--connect', url, '--token', 'tok']);
    const victim = clis.start(['worker', '--connect', url, '--token', 'tok']);
    await waitFor(() => /Epoch 1\/12 /.test(coordinator.output()), 'the first epoch', 60_000);
    victim.child.kill('SIGKILL');
    expect((await coordinator.exit).code, coordinator.output()).toBe(0);
    expect((await survivor.exit).code, survivor.output()).toBe(0);
    const output = coordinator.output();
    expect(output.match(/worker left/g) ?? [], output).toHaveLength(1);
    // The CLI's epoch line, or the coordinator's own log of the epoch (now at debug level): one of them, once.
    expect(output.match(/^.*(Epoch 1\/12 |epoch=1 ).*loss.*$/gm) ?? [], output).toHaveLength(1);
  });
});

describe('the banner and `adamant` on PATH (issue 12)', () => {
  const tmp = tempDir();
  afterAll(() => tmp.cleanup());

  it('after `npm link` in packages/cli, the worker command the banner prints runs as pasted and joins', async () => {
    // The README's one-line way onto PATH, into a prefix of this test's own.
    const prefix = path.join(tmp.dir, 'prefix');
    const link = spawnSync('npm', ['link', '--offline', '--no-audit', '--no-fund'], { cwd: path.join(repoRoot, 'packages/cli'), env: { ...process.env, npm_config_prefix: prefix }, encoding: 'utf8' });
    expect(link.status, link.stderr).toBe(0);
    const config = housingJob(tmp.dir, { epochs: 1 });
    const coordinator = await startCli(
      ['coordinator', config, '--host', '0.0.0.0', '--port', '0', '--insecure', '--out', path.join(tmp.dir, 'run')],
      /listening on 0\.0\.0\.0:\d+; .*\n {2}(ADAMANT_TOKEN=[0-9a-f]{32} adamant worker --connect ws:\/\/(\S+):\d+)\n/,
    );
    try {
      const [, command, address] = coordinator.match;
      const ours = Object.values(networkInterfaces()).flatMap((list) => (list ?? []).map((i) => i.address));
      expect(ours).toContain(address);
      const exited = new Promise<number | null>((resolve) => coordinator.child.on('exit', resolve));
      const worker = spawnSync('sh', ['-c', command!], { cwd: tmp.dir, env: { ...process.env, PATH: `${path.join(prefix, 'bin')}:${process.env.PATH}` }, encoding: 'utf8', timeout: 120_000 });
      expect(worker.status, worker.stderr).toBe(0);
      expect(worker.stderr).toMatch(/worker 1 INFO {2}training finished/);
      expect(await exited).toBe(0);
    } finally {
      coordinator.child.kill('SIGKILL');
    }
  });
});
