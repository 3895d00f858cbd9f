import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseJobConfig } from '../config/parse.js';
import { encodeTexts } from '../data/textData.js';
import { Tokenizer } from '../data/tokenizer.js';
import { DataError, ModelError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { readTableInput, tableInput, textInput } from './predictInput.js';

const tableModel = {
  dir: 'runs/houses',
  config: parseJobConfig(
    {
      model: [{ type: 'dense', units: 1, inputShape: [2] }],
      loss: 'meanSquaredError',
      optimizer: { adam: {} },
      data: { path: '/data/houses.csv', features: ['rooms', 'age'], target: 'price' },
    },
    'job.json',
  ),
  normalization: { mean: [3, 40], std: [2, 10] },
};

const textConfig = parseJobConfig(
  {
    model: [
      { type: 'embedding', inputDim: 20, outputDim: 4 },
      { type: 'lstm', units: 3 },
      { type: 'dense', units: 1, activation: 'sigmoid' },
    ],
    loss: 'binaryCrossentropy',
    optimizer: { adam: {} },
    data: { type: 'text', path: '/data/texts.jsonl', tokenizer: { numWords: 20 }, maxLength: 4, truncating: 'post' },
  },
  'job.json',
);
const textSpec = textConfig.data as Extract<typeof textConfig.data, { type: 'text' }>;
const tokenizer = Tokenizer.fit(['free cash now', 'the build is green', 'free build'], textSpec.tokenizer);
const textModel = { dir: 'runs/spam', config: textConfig, tokenizer };

describe('textInput', () => {
  it('encodes and pads texts as the training data was', () => {
    const texts = ['FREE cash, now!', 'unknown words only', 'the build is green and free'];
    expect(Array.from(textInput(textModel, texts))).toEqual(Array.from(encodeTexts(texts, new Float32Array(3), tokenizer, textSpec).x));
    expect(textInput(textModel, [])).toHaveLength(0);
  });

  it('refuses a table model, saying how to give it rows', () => {
    expect(thrown(() => textInput({ ...tableModel, config: tableModel.config }, ['a']), ModelError, 'E_MODEL').message).toBe(
      'runs/houses: this model reads table rows, not texts; give them with --csv FILE ("-" for stdin)',
    );
  });
});

describe('tableInput', () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'adamant-predict-input-'));
  afterAll(() => rmSync(tmp, { recursive: true, force: true }));

  it('takes the features by name in the model\'s order, ignores other columns, and standardises them', () => {
    const data = tableInput(tableModel, 'id,age,price,rooms\nx1,50,300,5\nx2,30,,1\n', 'stdin');
    expect(data.rows).toBe(2);
    expect(data.featureCount).toBe(2);
    // rooms (3 ± 2) then age (40 ± 10).
    expect(Array.from(data.x)).toEqual([1, 1, -1, -1]);
  });

  it('leaves the features as they are when the model was trained without normalisation', () => {
    const raw = { ...tableModel, config: { ...tableModel.config, data: { ...tableModel.config.data, normalize: false } } };
    expect(Array.from(tableInput(raw, 'rooms,age\n2.5,7\n', 'stdin').x)).toEqual([2.5, 7]);
  });

  it('gives no rows for a header alone', () => {
    expect(tableInput(tableModel, 'rooms,age\n', 'stdin').rows).toBe(0);
  });

  it('names the source, the line and the column of a missing column or a bad cell', () => {
    const message = (text: string) => thrown(() => tableInput(tableModel, text, 'stdin'), DataError, 'E_DATA').message;
    expect(message('rooms,size\n1,2\n')).toBe('stdin:1: no column "age"; the model reads the features rooms, age');
    expect(message('rooms,age\n1,2\n\n3,abc\n')).toBe('stdin:4: column "age": "abc" is not a number');
    expect(message('rooms,age\n1,\n')).toBe('stdin:2: column "age": "" is not a number');
    expect(message('rooms,age\n1,2,3\n')).toMatch(/^stdin:2: Invalid Record Length/);
    expect(message('')).toBe('stdin: the file is empty; expected a header row');
  });

  it('reads a file, naming it in messages', () => {
    const file = path.join(tmp, 'houses.csv');
    writeFileSync(file, 'rooms,age\n5,50\n7,inf\n');
    expect(thrown(() => readTableInput(tableModel, file), DataError, 'E_DATA').message).toBe(`${file}:3: column "age": "inf" is not a number`);
    writeFileSync(file, 'rooms,age\n5,50\n');
    expect(Array.from(readTableInput(tableModel, file).x)).toEqual([1, 1]);
    expect(thrown(() => readTableInput(tableModel, path.join(tmp, 'none.csv')), DataError, 'E_DATA').message).toMatch(/none\.csv: cannot read data file: no such file$/);
  });

  it('refuses a text model, saying how to give it texts', () => {
    expect(thrown(() => tableInput(textModel, 'a\n1\n', 'stdin'), ModelError, 'E_MODEL').message).toBe(
      'runs/spam: this model reads texts, not table rows; give them as arguments ("-" reads one per line from stdin)',
    );
  });
});
