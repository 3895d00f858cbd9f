import { readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { type Browser, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mulberry32 } from '@adamant/core';
import { findChromium, type StaticServer, serveFiles } from './support/browser.js';
import { jsonResult, runCli, tempDir, writeJson } from './support/cli.js';

/**
 * The export works without Adamant: a text model trained by the CLI, loaded in headless Chromium
 * by plain @tensorflow/tfjs from a local page, with the saved directory's preprocess.js turning
 * raw texts into its input, gives `adamant predict`'s probabilities.
 */
const words = { spam: ['win', 'free', 'prize', 'cash', 'click'], ham: ['meeting', 'patch', 'build', 'review', 'lunch'], any: ['the', 'a', 'to', 'and', 'you'] };

function syntheticTexts(rows: number): string {
  const random = mulberry32(17);
  const pick = (list: string[]) => list[Math.floor(random() * list.length)]!;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const label = random() < 0.5 ? 1 : 0;
    const length = 3 + Math.floor(random() * 10);
    const text = Array.from({ length }, () => (random() < 0.4 ? pick(label ? words.spam : words.ham) : pick(words.any))).join(' ');
    lines.push(JSON.stringify({ text, label }));
  }
  return `${lines.join('\n')}\n`;
}

/** Texts that exercise the preprocessing: case, punctuation, Unicode, unknown words, nothing at all, and more than maxLength words. */
const TEXTS = [
  'WIN a FREE prize, click now!!!',
  'the build review is at lunch',
  'Free cash… café 😀 naïve ΣΟΦΙΑ',
  'unknownword anotherone',
  '!!! ??? ...',
  'meeting\tpatch\nreview',
  Array.from({ length: 40 }, (_, i) => (i % 3 ? 'prize' : 'meeting')).join(' '),
  'you and the patch to build',
];

/** The page: plain tfjs from its browser bundle, and the model directory's own preprocess.js. */
const PAGE = `<!doctype html>
<meta charset="utf-8">
<title>Adamant export</title>
<script src="/tf.min.js"></script>
<script type="module">
  import { fromMetadata } from '/model/preprocess.js';
  try {
    await tf.setBackend('cpu');
    const model = await tf.loadLayersModel('/model/model.json');
    const metadata = model.getUserDefinedMetadata();
    const preprocessor = fromMetadata(metadata);
    globalThis.predictTexts = (texts) => {
      const { data, shape } = preprocessor.texts(texts);
      const outputs = tf.tidy(() => model.predict(tf.tensor(data, shape)).dataSync());
      return { input: Array.from(data), outputs: Array.from(outputs), decoded: preprocessor.decodeAll(outputs) };
    };
    globalThis.exportPage = { ready: true, backend: tf.getBackend(), version: tf.version.tfjs, metadata };
  } catch (error) {
    globalThis.exportPage = { error: String(error && error.stack || error) };
  }
</script>
`;

interface PageResult {
  input: number[];
  outputs: number[];
  decoded: { label: string; index: number; probabilities: number[] }[];
}

/** `adamant predict --json` as probabilities per class, from either of its forms: `probability` (of class 1) or `probabilities`. */
function predictedProbabilities(entry: Record<string, unknown>): number[] {
  if (Array.isArray(entry.probabilities)) return entry.probabilities as number[];
  if (typeof entry.probability === 'number') return [1 - entry.probability, entry.probability];
  throw new Error(`adamant predict --json gave no probabilities: ${JSON.stringify(entry)}`);
}

describe('an exported text model in a real browser', () => {
  const tmp = tempDir('adamant-browser-');
  const modelDir = path.join(tmp.dir, 'model');
  let server: StaticServer;
  let browser: Browser;
  let page: Page;
  const pageLog: string[] = [];
  // A setup failure (no Chromium, above all) fails each test with its message, rather than skipping them.
  let setupError: unknown;
  const ready = (): void => {
    if (setupError) throw setupError;
  };

  beforeAll(async () => {
    try {
      await setUp();
    } catch (error) {
      setupError = error;
    }
  }, 240_000);

  async function setUp(): Promise<void> {
    // First, so that a machine without Chromium fails at once, saying what to install.
    const executablePath = findChromium();
    writeFileSync(path.join(tmp.dir, 'texts.jsonl'), syntheticTexts(120));
    const config = writeJson(path.join(tmp.dir, 'job.json'), {
      model: [
        { type: 'embedding', inputDim: 24, outputDim: 8, inputLength: 10 },
        { type: 'lstm', units: 8 },
        { type: 'dense', units: 1, activation: 'sigmoid' },
      ],
      loss: 'binaryCrossentropy',
      metrics: ['accuracy'],
      optimizer: { adam: { learningRate: 0.02 } },
      batchSize: 16,
      epochs: 4,
      seed: 3,
      data: { type: 'text', path: 'texts.jsonl', tokenizer: { numWords: 24 }, maxLength: 10, truncating: 'post' },
    });
    const train = await runCli(['train', config, '--workers', '1', '--out', modelDir, '--json'], { timeoutMs: 120_000 });
    expect(train.code, train.stderr).toBe(0);
    expect(jsonResult(train)).toMatchObject({ epochs: 4, workers: 1 });

    const tfjsBundle = createRequire(import.meta.url).resolve('@tensorflow/tfjs/dist/tf.min.js');
    server = await serveFiles({
      '/': PAGE,
      '/index.html': PAGE,
      '/tf.min.js': tfjsBundle,
      '/model/model.json': path.join(modelDir, 'model.json'),
      '/model/weights.bin': path.join(modelDir, 'weights.bin'),
      '/model/preprocess.js': path.join(modelDir, 'preprocess.js'),
    });
    browser = await chromium.launch({ executablePath, args: ['--no-sandbox'] });
    page = await browser.newPage();
    page.on('console', (message) => pageLog.push(`console.${message.type()}: ${message.text()}`));
    page.on('pageerror', (error) => pageLog.push(`page error: ${error.message}`));
    await page.goto(`${server.origin}/index.html`);
    await page.waitForFunction('globalThis.exportPage !== undefined', undefined, { timeout: 60_000 });
  }

  afterAll(async () => {
    await browser?.close();
    await server?.close();
    tmp.cleanup();
  });

  it('loads the model with plain tfjs on the cpu backend, with the metadata adamant train saved', async () => {
    ready();
    const state = (await page.evaluate('globalThis.exportPage')) as { ready?: boolean; backend?: string; error?: string; metadata?: unknown };
    expect(state.error, `${state.error}\n${pageLog.join('\n')}\n${server.requests.join('\n')}`).toBeUndefined();
    expect(state).toMatchObject({ ready: true, backend: 'cpu' });
    const adamantJson = JSON.parse(readFileSync(path.join(modelDir, 'adamant.json'), 'utf8'));
    expect(state.metadata).toMatchObject({
      adamant: {
        version: 1,
        input: { shape: [10], dtype: 'float32' },
        preprocessing: {
          type: 'text',
          tokenizer: { ...adamantJson.tokenizer.config, words: adamantJson.tokenizer.words },
          maxLength: 10,
          padding: 'pre',
          truncating: 'post',
          head: { kind: 'sigmoid', units: 1 },
        },
      },
    });
    // Everything came from the local server: the page, tfjs, the model and the module.
    expect(server.requests).toEqual(expect.arrayContaining(['/tf.min.js 200', '/model/preprocess.js 200', '/model/model.json 200', '/model/weights.bin 200']));
  });

  it('predicts raw texts as `adamant predict` does, to 1e-5', async () => {
    ready();
    const inBrowser = (await page.evaluate(`globalThis.predictTexts(${JSON.stringify(TEXTS)})`)) as PageResult;
    const predict = await runCli(['predict', '--json', modelDir, ...TEXTS]);
    expect(predict.code, predict.stderr).toBe(0);
    const expected = (JSON.parse(predict.stdout.trim().split('\n').at(-1)!) as Record<string, unknown>[]).map(predictedProbabilities);
    expect(expected).toHaveLength(TEXTS.length);
    expect(inBrowser.decoded).toHaveLength(TEXTS.length);
    const gaps = inBrowser.decoded.map((d, i) => Math.max(...d.probabilities.map((p, c) => Math.abs(p - expected[i]![c]!))));
    expect(Math.max(...gaps), `browser ${JSON.stringify(inBrowser.decoded)}\npredict ${JSON.stringify(expected)}`).toBeLessThanOrEqual(1e-5);
    // The comparison means something: the texts got different token ids and different outputs.
    expect(new Set(inBrowser.outputs.map((p) => p.toFixed(4))).size).toBeGreaterThan(4);
    expect(inBrowser.input.slice(4 * 10, 5 * 10)).toEqual(new Array(10).fill(0));
    expect(inBrowser.decoded.every((d) => d.label === (d.probabilities[1]! > 0.5 ? '1' : '0'))).toBe(true);
  });
});
