import { type ChildProcess, execFileSync } from 'node:child_process';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { floatBytes, PROTOCOL_VERSION, type CoordinatorMessage } from '@adamant/core';
import { housingConfigPath, runCli, startCli, tempDir, writeJson } from './support/cli.js';
import { rawPeer } from './support/rawPeer.js';

/** Every bad input ends in a non-zero exit and one line on stderr that names the culprit. */
function expectOneLineError(result: { code: number | null; stderr: string }, ...mentions: (string | RegExp)[]): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  for (const m of mentions) expect(lines[0]).toMatch(m);
}

const tmp = tempDir();
afterAll(() => tmp.cleanup());
const housing = JSON.parse(readFileSync(housingConfigPath, 'utf8')) as Record<string, unknown> & { data: Record<string, unknown> };
const housingCsv = path.resolve(path.dirname(housingConfigPath), housing.data.path as string);

describe('bad configs and data', () => {
  // The first six are one short CLI process each: they run side by side. The two after them run
  // alone, the first because it holds its processes to a deadline.
  it.concurrent('rejects a config that is not JSON, naming the file', async () => {
    const file = path.join(tmp.dir, 'broken.json');
    writeFileSync(file, '{ "model": [ { "type": "dense", ');
    expectOneLineError(await runCli(['train', file]), file, /not valid JSON/, /E_CONFIG/);
  });

  it.concurrent('rejects an unknown layer type, naming the field', async () => {
    const file = writeJson(path.join(tmp.dir, 'conv.json'), { ...housing, model: [{ type: 'dense', units: 4 }, { type: 'conv2d', filters: 3 }] });
    expectOneLineError(await runCli(['train', file]), file, /model\[1\]\.type/, /conv2d/);
  });

  it.concurrent('rejects a wrong field value, naming the field', async () => {
    const file = writeJson(path.join(tmp.dir, 'units.json'), { ...housing, model: [{ type: 'dense', units: -3 }] });
    expectOneLineError(await runCli(['train', file]), file, /model\[0\]\.units/);
  });

  it.concurrent('rejects a CSV with a non-numeric cell, naming file, line and column', async () => {
    const csv = path.join(tmp.dir, 'bad-cell.csv');
    const lines = readFileSync(housingCsv, 'utf8').split('\n');
    lines[5] = lines[5]!.replace(/^[^,]+/, 'n/a');
    writeFileSync(csv, lines.join('\n'));
    const file = writeJson(path.join(tmp.dir, 'bad-cell.json'), { ...housing, data: { ...housing.data, path: csv } });
    expectOneLineError(await runCli(['train', file]), `${csv}:6`, /column "crim"/, /"n\/a" is not a number/, /E_DATA/);
  });

  it.concurrent('rejects a CSV that lacks a named column', async () => {
    const csv = path.join(tmp.dir, 'housing.csv');
    copyFileSync(housingCsv, csv);
    const file = writeJson(path.join(tmp.dir, 'no-column.json'), { ...housing, data: { ...housing.data, path: csv, target: 'price' } });
    expectOneLineError(await runCli(['train', file]), csv, /no column "price"/, /data\.target/);
  });

  it.concurrent('rejects a missing data file', async () => {
    const file = writeJson(path.join(tmp.dir, 'no-file.json'), { ...housing, data: { ...housing.data, path: 'nowhere.csv' } });
    expectOneLineError(await runCli(['train', file]), path.join(tmp.dir, 'nowhere.csv'), /no such file/);
  });

  it('refuses /dev/zero and a FIFO as data at once, instead of reading for ever or hanging (issue 9)', async () => {
    const zero = writeJson(path.join(tmp.dir, 'zero.json'), { ...housing, data: { ...housing.data, path: '/dev/zero' } });
    expectOneLineError(await runCli(['train', zero, '--workers', '1'], { timeoutMs: 15_000 }), '/dev/zero: not a regular file (a device)', '[E_DATA]');
    const fifo = path.join(tmp.dir, 'data.fifo');
    execFileSync('mkfifo', [fifo]);
    const piped = writeJson(path.join(tmp.dir, 'fifo.json'), { ...housing, data: { ...housing.data, path: fifo } });
    expectOneLineError(await runCli(['train', piped, '--workers', '1'], { timeoutMs: 15_000 }), 'data.fifo: not a regular file (a FIFO)', '[E_DATA]');
  });

  it('rejects an --init model whose weights do not fit the config', async () => {
    const small = writeJson(path.join(tmp.dir, 'small.json'), { ...housing, data: { ...housing.data, path: housingCsv }, model: [{ type: 'dense', units: 1 }] });
    const init = path.join(tmp.dir, 'small-init');
    expect((await runCli(['train', small, '--epochs', '0', '--out', init])).code).toBe(0);
    const big = writeJson(path.join(tmp.dir, 'big.json'), { ...housing, data: { ...housing.data, path: housingCsv } });
    expectOneLineError(await runCli(['train', big, '--epochs', '1', '--init', init]), init, /E_SHAPE/);
  });
});

describe('bad peers', () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());
  let shared: Promise<{ url: string; child: ChildProcess }> | undefined;
  afterAll(async () => (await shared?.catch(() => undefined))?.child.kill('SIGKILL'));

  // One short process each, side by side.
  it.concurrent('a worker with no coordinator to reach exits naming the address', async () => {
    const result = await runCli(['worker', '--connect', 'ws://127.0.0.1:9', '--connect-timeout', '1']);
    expectOneLineError(result, 'ws://127.0.0.1:9', /connection refused/, /E_CONNECT/);
  });

  it.concurrent('usage errors exit 2', async () => {
    const result = await runCli(['worker', '--connect', 'http://x']);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/ws:\/\/HOST:PORT/);
  });

  /**
   * The URL of one coordinator, started by the first test that asks, for the peers below: whatever
   * a peer sends costs at most its own connection, so each test also shows it still serves the next.
   */
  async function sharedCoordinator(): Promise<string> {
    if (!shared) {
      const file = writeJson(path.join(tmp.dir, 'coord.json'), { ...housing, data: { ...housing.data, path: housingCsv }, epochs: 1 });
      const started = startCli(['coordinator', file, '--port', '0', '--host', '127.0.0.1', '--token', 'right-token'], /listening on 127\.0\.0\.1:(\d+)/);
      shared = started.then(({ child, match }) => ({ child, url: `ws://127.0.0.1:${match[1]}` }));
    }
    return (await shared).url;
  }

  it('a worker with a wrong token is refused and says so', async () => {
    const url = await sharedCoordinator();
    const result = await runCli(['worker', '--connect', url, '--token', 'wrong-token']);
    expectOneLineError(result, url, /wrong token/, /E_AUTH/);
  });

  it('a peer speaking another protocol version is rejected with E_VERSION', async () => {
    const peer = await rawPeer(await sharedCoordinator());
    peer.hello('right-token', 'future-worker', { protocol: PROTOCOL_VERSION + 1 });
    const reply = await peer.next();
    expect(reply).toMatchObject({ type: 'reject', code: 'E_VERSION' });
    expect((reply as { message: string }).message).toMatch(new RegExp(`future-worker.*protocol ${PROTOCOL_VERSION + 1}.*speaks ${PROTOCOL_VERSION}`));
  });

  it('a malformed frame is rejected with E_PROTOCOL, and the coordinator keeps serving', async () => {
    const url = await sharedCoordinator();
    const bad = await rawPeer(url);
    bad.send(new Uint8Array([0xc1, 0xff, 0x00, 0x13]));
    expect(await bad.next()).toMatchObject({ type: 'reject', code: 'E_PROTOCOL' });
    const good = await rawPeer(url);
    good.hello('right-token', 'good');
    expect(await good.next()).toMatchObject({ type: 'welcome' });
  });

  it('an oversized frame closes that connection with 1009', async () => {
    const peer = await rawPeer(await sharedCoordinator());
    // The housing model has 2,945 parameters, so the limit is 1 MiB + ~12 KB.
    peer.send(new Uint8Array(2 << 20));
    expect(await peer.next()).toMatchObject({ closed: 1009 });
  });

  it('a NaN gradient stops training with E_NUMERIC naming the worker, chunk and weight', async () => {
    const file = writeJson(path.join(tmp.dir, 'nan.json'), { ...housing, data: { ...housing.data, path: housingCsv }, epochs: 1 });
    const { child, match, output } = await startCli(['coordinator', file, '--port', '0', '--host', '127.0.0.1', '--token', 't'], /listening on 127\.0\.0\.1:(\d+)/);
    stop = () => child.kill('SIGKILL');
    const exited = new Promise<number | null>((r) => child.on('exit', r));
    const peer = await rawPeer(`ws://127.0.0.1:${match[1]}`);
    peer.hello('t', 'nan-worker');
    const welcome = await peer.next();
    expect(welcome).toMatchObject({ type: 'welcome' });
    const paramCount = (welcome as { job: { paramCount: number } }).job.paramCount;
    peer.send({ type: 'ready', backend: 'cpu' });
    const step = (await peer.next()) as Extract<CoordinatorMessage, { type: 'step' }>;
    expect(step.type).toBe('step');
    const grads = new Float32Array(paramCount);
    grads[5] = Number.NaN;
    const chunk = step.chunks[0]!;
    peer.send({ type: 'chunk', step: step.step, index: chunk.index, samples: chunk.samples, lossSum: 1, metricSums: [1], grads: floatBytes(grads) });
    expect(await exited).toBe(1);
    const lastLine = output().trim().split('\n').at(-1)!;
    expect(lastLine).toMatch(/nan-worker/);
    expect(lastLine).toMatch(new RegExp(`chunk ${chunk.index}`));
    expect(lastLine).toMatch(/dense_1\/kernel\[5\] is NaN/);
    expect(lastLine).toMatch(/E_NUMERIC/);
  });
});

describe('a coordinator that no worker reaches', () => {
  const own = tempDir();
  afterAll(() => own.cleanup());

  it('gives up after --worker-timeout with E_CONNECT', async () => {
    const file = writeJson(path.join(own.dir, 'lonely.json'), { ...housing, data: { ...housing.data, path: housingCsv } });
    const started = Date.now();
    const result = await runCli(['coordinator', file, '--port', '0', '--host', '127.0.0.1', '--min-workers', '2', '--worker-timeout', '1', '--token', 't']);
    expect(result.code).toBe(1);
    expect(Date.now() - started).toBeLessThan(30_000);
    const lastLine = result.stderr.trim().split('\n').at(-1)!;
    expect(lastLine).toMatch(/only 0 of 2 workers have been ready for 1 s \(--worker-timeout\).*\[E_CONNECT\]$/);
  });
});
