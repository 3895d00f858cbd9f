import { describe, expect, it } from 'vitest';
import { KERAS_FILTERS, type TokenizerSpec } from '../config/schema.js';
import type { Dataset } from '../data/dataset.js';
import { applyNormalization, fitNormalization } from '../data/table.js';
import { padSequence, Tokenizer } from '../data/tokenizer.js';
import { mulberry32 } from '../rng.js';
import type { AdamantExport, TablePreprocessing, TextPreprocessing } from './exportFormat.js';
import { fromMetadata, PreprocessError, type Preprocessor } from './preprocess.js';

/** Words, punctuation, spacing and Unicode that core's tokenizer must treat the same way as preprocess.js. */
const PIECES = [
  ...['free', 'prize', 'meeting', 'build', 'the', 'a', 'you', 'Free', 'PRIZE', 'MeEtInG', "it's", 'e-mail', 'a.b', 'x_y', '42', '3.14'],
  ...['café', 'CAFÉ', 'naïve', 'straße', 'STRASSE', 'İstanbul', 'ΣΟΦΙΑ', 'σοφια', 'ﬁ', '日本語', 'שלום', 'e\u0301', 'Ω', 'ǅ'],
  ...['😀', '👍🏽', '👨\u200d👩\u200d👧', '\ud800', '\udfff', '\u0000', '𝔘𝔫𝔦'],
  ...[' ', ' ', ' ', '  ', '\t', '\n', '\r\n', '\u00a0', '\u3000', '\u200b', '\ufeff'],
  ...KERAS_FILTERS.split(''),
];

function randomTexts(count: number, seed: number, maxPieces = 30): string[] {
  const random = mulberry32(seed);
  return Array.from({ length: count }, () => {
    const n = Math.floor(random() * maxPieces);
    let text = '';
    for (let i = 0; i < n; i++) text += PIECES[Math.floor(random() * PIECES.length)]!;
    return text;
  });
}

const EDGE_TEXTS = [
  '',
  ' ',
  '\t\n',
  '!!! ??? ...',
  'unknownword anotherone zzz',
  'FREE prize!!! 🎉 café—naïve',
  Array.from({ length: 5000 }, (_, i) => ['free', 'the', 'unknown', 'Meeting,'][i % 4]).join(' '),
];

const TOKENIZERS: [string, TokenizerSpec][] = [
  ['Keras defaults', { numWords: 1000, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS }],
  ['no OOV token (unknown words dropped)', { numWords: 1000, oovToken: null, lowercase: true, filters: KERAS_FILTERS }],
  ['case kept', { numWords: 1000, oovToken: '<OOV>', lowercase: false, filters: KERAS_FILTERS }],
  ['no filters', { numWords: 1000, oovToken: '<OOV>', lowercase: true, filters: '' }],
  ['astral and regex-special filters', { numWords: 1000, oovToken: 'UNK', lowercase: true, filters: ']^\\-😀\u00a0\n[' }],
  ['a small vocabulary (most words unknown)', { numWords: 6, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS }],
];

function textExport(tokenizer: Tokenizer, maxLength: number, padding: 'pre' | 'post', truncating: 'pre' | 'post'): { adamant: AdamantExport } {
  const { config, words } = tokenizer.toJSON();
  const preprocessing: TextPreprocessing = {
    type: 'text',
    tokenizer: { ...config, words },
    maxLength,
    padding,
    truncating,
    labels: ['ham', 'spam'],
    head: { kind: 'sigmoid', units: 1 },
  };
  return { adamant: { version: 1, input: { shape: [maxLength], dtype: 'float32' }, preprocessing } };
}

describe('preprocess.js texts', () => {
  const fitTexts = randomTexts(300, 1);
  const newTexts = [...randomTexts(400, 2), ...randomTexts(20, 3, 400), ...EDGE_TEXTS];

  it.each(TOKENIZERS)('tokenizes exactly like core Tokenizer.textToSequence: %s', (_, spec) => {
    const tokenizer = Tokenizer.fit(fitTexts, spec);
    const preprocessor = fromMetadata(textExport(tokenizer, 10, 'pre', 'pre'));
    let known = 0;
    for (const text of [...fitTexts, ...newTexts]) {
      const expected = tokenizer.textToSequence(text);
      expect(preprocessor.tokenize(text), JSON.stringify(text)).toEqual(expected);
      known += expected.filter((id) => id > 1).length;
    }
    // The comparison means something only if known words do occur.
    expect(known).toBeGreaterThan(100);
  });

  it.each([
    [1, 'pre', 'pre'],
    [7, 'pre', 'post'],
    [7, 'post', 'pre'],
    [40, 'post', 'post'],
  ] as const)('pads and truncates exactly like core padSequence: maxLength %i, padding %s, truncating %s', (maxLength, padding, truncating) => {
    const tokenizer = Tokenizer.fit(fitTexts, TOKENIZERS[0]![1]);
    const { data, shape } = fromMetadata(textExport(tokenizer, maxLength, padding, truncating)).texts(newTexts);
    const expected = new Float32Array(newTexts.length * maxLength);
    newTexts.forEach((text, r) => {
      padSequence(tokenizer.textToSequence(text), maxLength, padding, truncating, expected, r * maxLength);
    });
    expect(shape).toEqual([newTexts.length, maxLength]);
    expect(data).toEqual(expected);
  });

  it('accepts a parsed model.json as well as its userDefinedMetadata', () => {
    const tokenizer = Tokenizer.fit(['b a b'], TOKENIZERS[0]![1]);
    const block = textExport(tokenizer, 3, 'pre', 'pre');
    expect(fromMetadata({ format: 'layers-model', userDefinedMetadata: block }).texts(['a b c']).data).toEqual(new Float32Array([3, 2, 1]));
    expect(fromMetadata(block).inputShape).toEqual([3]);
  });
});

function tableExport(features: string[], normalization: TablePreprocessing['normalization']): { adamant: AdamantExport } {
  const preprocessing: TablePreprocessing = { type: 'table', features, normalization, labels: null, head: { kind: 'linear', units: 1 } };
  return { adamant: { version: 1, input: { shape: [features.length], dtype: 'float32' }, preprocessing } };
}

describe('preprocess.js rows', () => {
  const features = ['rooms', 'age', 'tax'];
  const random = mulberry32(7);
  const raw = Array.from({ length: 50 }, () => features.map((_, f) => (random() - 0.3) * 10 ** (f + 1)));
  const dataset = (): Dataset => ({ rows: raw.length, featureCount: features.length, x: new Float32Array(raw.flat()), y: new Float32Array(raw.length) });

  it('standardises exactly like core applyNormalization, from arrays, objects and numeric strings', () => {
    const core = dataset();
    const normalization = fitNormalization(core);
    applyNormalization(core, normalization);
    const preprocessor = fromMetadata(tableExport(features, normalization));
    expect(preprocessor.rows(raw).data).toEqual(core.x);
    // Objects are read by name, whatever their key order; CSV cells come as strings.
    const objects = raw.map(([rooms, age, tax]) => ({ tax: String(tax), extra: 'ignored', rooms: ` ${rooms} `, age }));
    const { data, shape } = preprocessor.rows(objects);
    expect(shape).toEqual([raw.length, 3]);
    expect(data).toEqual(core.x);
    expect(preprocessor.features).toEqual(features);
  });

  it('passes raw features through as float32 without a normalisation', () => {
    expect(fromMetadata(tableExport(features, null)).rows(raw).data).toEqual(dataset().x);
  });

  it('refuses rows that do not fit, naming the row and the feature (E_DATA)', () => {
    const preprocessor = fromMetadata(tableExport(features, null));
    const dataError = (fn: () => unknown): string => thrownPreprocess(fn, 'E_DATA');
    expect(dataError(() => preprocessor.rows([{ rooms: 1, age: 2 }]))).toBe('rows[0]: no feature "tax"');
    expect(dataError(() => preprocessor.rows([[1, 2, 3], [1, 2]]))).toBe('rows[1]: 2 values, the model reads 3 (rooms, age, tax)');
    expect(dataError(() => preprocessor.rows([{ rooms: 1, age: '', tax: 3 }]))).toBe('rows[0].age: "" is not a number');
    expect(dataError(() => preprocessor.rows([[1, 'x', 3]]))).toBe('rows[0].age: "x" is not a number');
    expect(dataError(() => preprocessor.rows([[1, Number.NaN, 3]]))).toBe('rows[0].age: null is not a number');
    expect(dataError(() => preprocessor.texts(['a']))).toBe('texts(): this model reads table rows; use rows()');
  });
});

function thrownPreprocess(fn: () => unknown, code: 'E_MODEL' | 'E_DATA'): string {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(PreprocessError);
    expect((err as PreprocessError).code).toBe(code);
    expect((err as Error).message).not.toContain('\n');
    return (err as Error).message;
  }
  throw new Error('expected a PreprocessError, but nothing was thrown');
}

describe('preprocess.js outputs', () => {
  const withHead = (kind: 'sigmoid' | 'softmax' | 'linear', units: number, labels: string[] | null): Preprocessor => {
    const block = tableExport(['a'], null);
    Object.assign(block.adamant.preprocessing, { head: { kind, units }, labels });
    return fromMetadata(block);
  };

  it('reads a sigmoid output as class 1 above 0.5, like core accuracy', () => {
    const binary = withHead('sigmoid', 1, ['ham', 'spam']);
    expect(binary.decode([0.75])).toEqual({ label: 'spam', index: 1, probabilities: [0.25, 0.75] });
    expect(binary.decode(new Float32Array([0.5]))).toMatchObject({ label: 'ham', index: 0 });
    expect(withHead('sigmoid', 1, null).decode([0.9]).label).toBe('1');
  });

  it('reads a softmax output as its most probable class, the first on ties, and decodes a flat batch', () => {
    const softmax = withHead('softmax', 3, ['cat', 'dog', 'fox']);
    expect(softmax.decode([0.2, 0.5, 0.3])).toEqual({ label: 'dog', index: 1, probabilities: [0.2, 0.5, 0.3] });
    expect(softmax.decode([0.4, 0.2, 0.4]).label).toBe('cat');
    expect(softmax.decodeAll(new Float32Array([0.1, 0.1, 0.8, 0.7, 0.2, 0.1])).map((d) => d.label)).toEqual(['fox', 'cat']);
    expect(thrownPreprocess(() => softmax.decode([0.5, 0.5]), 'E_DATA')).toBe('decode(): 2 outputs, the model has 3');
    expect(thrownPreprocess(() => withHead('linear', 1, null).decode([3]), 'E_DATA')).toMatch(/linear head/);
  });
});

describe('preprocess.js metadata', () => {
  const modelError = (metadata: unknown): string => thrownPreprocess(() => fromMetadata(metadata), 'E_MODEL');
  const text = (): { adamant: AdamantExport } => textExport(Tokenizer.fit(['b a b'], TOKENIZERS[0]![1]), 4, 'pre', 'pre');
  const edit = (change: (p: Record<string, unknown> & { tokenizer: Record<string, unknown> }) => void): unknown => {
    const block = text();
    change(block.adamant.preprocessing as never);
    return block;
  };

  it('is refused when missing or malformed, naming the field (E_MODEL)', () => {
    expect(modelError({})).toMatch(/^userDefinedMetadata: no "adamant" block/);
    expect(modelError(undefined)).toMatch(/^userDefinedMetadata: no "adamant" block/);
    expect(modelError({ adamant: { ...text().adamant, version: 2 } })).toBe('userDefinedMetadata.adamant.version: this preprocess.js reads version 1, not 2');
    expect(modelError(edit((p) => (p.type = 'image')))).toMatch(/^userDefinedMetadata\.adamant\.preprocessing\.type: expected one of text, table/);
    expect(modelError(edit((p) => (p.maxLength = 0)))).toMatch(/\.preprocessing\.maxLength: expected a positive integer, got 0$/);
    expect(modelError(edit((p) => (p.tokenizer.words = ['<OOV>', 'b', 'b'])))).toMatch(/\.tokenizer\.words\[2\]: "b" is listed twice$/);
    expect(modelError(edit((p) => (p.tokenizer.words = ['b', '<OOV>'])))).toMatch(/\.tokenizer\.words\[0\]: expected the OOV token "<OOV>", got "b"$/);
    expect(modelError(edit((p) => (p.tokenizer.numWords = 2)))).toMatch(/\.tokenizer\.words: 3 words, but numWords 2 allows at most 1$/);
    expect(modelError(edit((p) => (p.labels = ['a', 'b', 'c'])))).toMatch(/\.preprocessing\.labels: 3 labels for a sigmoid head of 1 unit\(s\), which has 2 classes$/);
    expect(modelError(edit((p) => (p.head = { kind: 'sigmoid', units: 2 })))).toMatch(/\.preprocessing\.head\.units: a sigmoid head has 1 unit, got 2$/);
    const zeroStd = tableExport(['a', 'b'], { mean: [0, 0], std: [1, 0] });
    expect(modelError(zeroStd)).toBe('userDefinedMetadata.adamant.preprocessing.normalization.std[1]: is 0');
    const shortMean = tableExport(['a', 'b'], { mean: [0], std: [1, 1] });
    expect(modelError(shortMean)).toBe('userDefinedMetadata.adamant.preprocessing.normalization.mean: expected 2 numbers, got [0]');
  });
});
