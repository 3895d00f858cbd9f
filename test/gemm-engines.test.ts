import { createHash } from 'node:crypto';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, jsonResult, runCli, startCli, tempDir, writeJson } from './support/cli.js';
import { writeTopicTexts } from './support/modelData.js';
import { weightBytes } from './support/reference.js';

/**
 * Issue 13's GEMM engines on real CLI processes: with `--gemm openblas`, 1, 2 and 3 workers give
 * byte-identical weights on an LSTM job and on a GRU / bidirectional job; `--gemm wasm` gives the
 * bytes the fused path gave before engines existed; a missing OpenBLAS falls back to wasm with one
 * warning under `--gemm auto` and is a one-line error under `--gemm openblas`; the job carries the
 * coordinator's choice to workers without their own, and workers on two engines are warned of.
 * OpenBLAS is installed here and in CI (`.ci/run`); ADAMANT_OPENBLAS_LIB plays its absence.
 */

const layer = (type: 'lstm' | 'gru', units: number, returnSequences: boolean) => ({ type, units, returnSequences });
const JOBS = {
  lstm: {
    label: 'topic',
    model: [{ type: 'embedding', inputDim: 50, outputDim: 8, inputLength: 8 }, layer('lstm', 12, true), layer('lstm', 6, false), { type: 'dense', units: 3, activation: 'softmax' }],
    loss: 'sparseCategoricalCrossentropy',
  },
  gru: {
    label: 'mood',
    model: [
      { type: 'embedding', inputDim: 50, outputDim: 8, inputLength: 8 },
      { type: 'bidirectional', layer: layer('gru', 6, true), mergeMode: 'concat' },
      layer('gru', 5, false),
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binaryCrossentropy',
  },
} as const;

/**
 * sha256 of weights.bin after `adamant train JOB --workers 2` on the code before engines (commit
 * 72484cb, whose fused path is the wasm engine's): `--gemm wasm` must keep these bytes.
 */
const BEFORE_ENGINES = {
  lstm: '7d4be619d1b1c27482635f535ee61b7d710b0b4f3f3ba0b5e6eabdaebe5d53c9',
  gru: '72e4891a4e209b901f80a0a0e17159c5cc6fdd0ca6b8c53b1c414f19457f8dfa',
};

const missingOpenBlas = { ADAMANT_OPENBLAS_LIB: '/nonexistent/libopenblas.so.0' };
const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe('GEMM engines', () => {
  const tmp = tempDir();
  const jobPath = (name: keyof typeof JOBS) => path.join(tmp.dir, `${name}.json`);
  const out = (name: string) => path.join(tmp.dir, name);
  const train = async (job: keyof typeof JOBS, name: string, args: string[], env?: NodeJS.ProcessEnv): Promise<CliResult> => {
    const run = await runCli(['train', jobPath(job), '--out', out(name), ...args], { timeoutMs: 180_000, ...(env ? { env } : {}) });
    expect(run.code, run.stderr).toBe(0);
    return run;
  };

  beforeAll(() => {
    const texts = writeTopicTexts(path.join(tmp.dir, 'texts.jsonl'), 160);
    for (const [name, job] of Object.entries(JOBS)) {
      writeJson(jobPath(name as keyof typeof JOBS), {
        model: job.model,
        loss: job.loss,
        metrics: ['accuracy'],
        optimizer: { adam: { learningRate: 0.01 } },
        batchSize: 32,
        // Four chunks a batch: three workers split them unevenly.
        chunkSize: 8,
        epochs: 2,
        seed: 3,
        shuffle: true,
        validationSplit: 0.2,
        data: { type: 'text', path: texts, labelField: job.label, tokenizer: { numWords: 50 }, maxLength: 8 },
      });
    }
  });
  afterAll(() => tmp.cleanup());

  for (const job of ['lstm', 'gru'] as const) {
    it(`${job}: with --gemm openblas, 1, 2 and 3 workers give byte-identical weights, and the summary names the engine`, async () => {
      const runs = await Promise.all([1, 2, 3].map((workers) => train(job, `${job}-openblas-${workers}`, ['--workers', String(workers), '--gemm', 'openblas', '--json'])));
      for (const run of runs) expect(jsonResult(run).workerBackends).toEqual([expect.stringMatching(/^wasm\+openblas \d+\.\d+\.\d+\S* \S+$/)]);
      const one = weightBytes(out(`${job}-openblas-1`));
      expect(weightBytes(out(`${job}-openblas-2`)).equals(one)).toBe(true);
      expect(weightBytes(out(`${job}-openblas-3`)).equals(one)).toBe(true);
    });

    it(`${job}: --gemm wasm keeps the bytes of the fused path before engines`, async () => {
      const run = await train(job, `${job}-wasm`, ['--workers', '2', '--gemm', 'wasm', '--json']);
      expect(jsonResult(run).workerBackends).toEqual(['wasm+wasm']);
      expect(sha256(weightBytes(out(`${job}-wasm`)))).toBe(BEFORE_ENGINES[job]);
      // The engines are the same mathematics with other last bits.
      const openblas = weightBytes(out(`${job}-openblas-2`));
      expect(weightBytes(out(`${job}-wasm`)).equals(openblas)).toBe(false);
    });
  }

  it('without OpenBLAS, --gemm auto says so in one warning, trains on wasm, and the text summary names it', async () => {
    const run = await train('lstm', 'lstm-fallback', ['--workers', '2', '--gemm', 'auto'], missingOpenBlas);
    const warnings = run.stderr.split('\n').filter((line) => line.includes('OpenBLAS'));
    expect(warnings, run.stderr).toEqual([expect.stringMatching(/--gemm auto: OpenBLAS was not found at \/nonexistent\/libopenblas\.so\.0 .*apt-get install libopenblas0-pthread.*slower wasm GEMM engine/)]);
    expect(run.stdout).toMatch(/^trained 2 epochs, \d+ steps in [\d.]+ s \(\d+ samples\/s\) on wasm\+wasm; model saved to /m);
    expect(weightBytes(out('lstm-fallback')).equals(weightBytes(out('lstm-wasm')))).toBe(true);
  });

  it('evaluate takes --gemm too: both engines give the same loss to 1e-5, and a missing OpenBLAS is one line on stderr', async () => {
    const evaluate = (gemm: string, env?: NodeJS.ProcessEnv) =>
      runCli(['evaluate', out('lstm-wasm'), path.join(tmp.dir, 'texts.jsonl'), '--gemm', gemm, '--json'], env ? { env } : {});
    const [openblas, wasm, fallback] = await Promise.all([evaluate('openblas'), evaluate('wasm'), evaluate('auto', missingOpenBlas)]);
    for (const run of [openblas, wasm, fallback]) expect(run.code, run.stderr).toBe(0);
    const results = [openblas, wasm, fallback].map((run) => jsonResult(run) as { loss: number; gemm: string; path: string });
    expect(results.map((r) => [r.path, r.gemm])).toEqual([['fused', 'openblas'], ['fused', 'wasm'], ['fused', 'wasm']]);
    expect(Math.abs(results[0]!.loss - results[1]!.loss)).toBeLessThan(1e-5);
    expect(results[2]!.loss).toBe(results[1]!.loss);
    expect(openblas.stderr).toBe('');
    expect(fallback.stderr.trim().split('\n')).toEqual([expect.stringMatching(/--gemm auto: OpenBLAS was not found .*slower wasm GEMM engine/)]);
  });

  it('without OpenBLAS, --gemm openblas fails at once with one line naming the install commands', async () => {
    const run = await runCli(['train', jobPath('lstm'), '--workers', '2', '--gemm', 'openblas', '--out', out('lstm-missing')], { env: missingOpenBlas });
    expect(run.code).toBe(1);
    const lines = run.stderr.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^adamant: --gemm openblas: OpenBLAS was not found at \/nonexistent\/libopenblas\.so\.0 \(ADAMANT_OPENBLAS_LIB\); install it with `apt-get install libopenblas0-pthread` \(Debian, Ubuntu\), `dnf install openblas` \(Fedora\) or `brew install openblas` \(macOS\), or use --gemm wasm \[E_BACKEND\]$/);
  });

  it("the coordinator's --gemm reaches workers without their own; ADAMANT_GEMM overrides it, and two engines are warned of", async () => {
    const token = 'gemm-test-token';
    const coordinator = await startCli(
      ['coordinator', jobPath('lstm'), '--port', '0', '--host', '127.0.0.1', '--token', token, '--min-workers', '2', '--gemm', 'wasm', '--epochs', '1', '--json', '--out', out('mixed')],
      /listening on 127\.0\.0\.1:(\d+)/,
    );
    const exited = new Promise<number | null>((resolve) => coordinator.child.on('close', resolve));
    const url = `ws://127.0.0.1:${coordinator.match[1]}`;
    const worker = (env: NodeJS.ProcessEnv) => runCli(['worker', '--connect', url, '--token', token, '--reconnect-timeout', '0'], { timeoutMs: 120_000, env });
    const workers = await Promise.all([worker({}), worker({ ADAMANT_GEMM: 'openblas' })]);
    expect(await exited, coordinator.output().slice(-3000)).toBe(0);
    for (const w of workers) expect(w.code, w.stderr).toBe(0);
    expect(workers[0]!.stderr).toMatch(/joined .*gemm=wasm/);
    expect(workers[1]!.stderr).toMatch(/joined .*gemm="?openblas \d/);
    expect(coordinator.output()).toMatch(/workers run different backends or GEMM engines: results stay correct but are no longer bitwise reproducible/);
    const summary = JSON.parse(coordinator.output().split('\n').filter((line) => line.startsWith('{"loss"')).pop()!) as { workerBackends: string[] };
    expect([...summary.workerBackends].sort()).toEqual([expect.stringMatching(/^wasm\+openblas \d/), 'wasm+wasm']);
  });
});
