import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { LossName } from '../config/names.js';
import { KERAS_FILTERS, type JobConfig, type TextDataSpec } from '../config/schema.js';
import { ConfigError, DataError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { type DataConfig, prepareData } from './prepare.js';
import { encodeTexts, readTextRecords } from './textData.js';
import { Tokenizer } from './tokenizer.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'adamant-text-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function write(name: string, text: string): string {
  const file = path.join(dir, name);
  writeFileSync(file, text);
  return file;
}

function spec(file: string, overrides: Partial<TextDataSpec> = {}): TextDataSpec {
  return {
    type: 'text',
    path: file,
    textField: 'text',
    labelField: 'label',
    tokenizer: { numWords: 100, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS },
    maxLength: 4,
    padding: 'pre',
    truncating: 'pre',
    badRows: 'skip',
    unknownLabels: 'fail',
    ...overrides,
  };
}

const dataError = (fn: () => unknown): string => thrown(fn, DataError, 'E_DATA').message;
const configError = (fn: () => unknown): string => thrown(fn, ConfigError, 'E_CONFIG').message;

/** A text job around `data`: a binary sigmoid head, or a softmax head of `classes` units. */
function job(data: TextDataSpec, validationSplit = 0, loss: LossName = 'binaryCrossentropy', classes = 1): DataConfig {
  const model: JobConfig['model'] = [
    { type: 'embedding', inputDim: 100, outputDim: 2 },
    { type: 'lstm', units: 2, returnSequences: false, activation: 'tanh', recurrentActivation: 'sigmoid' },
    { type: 'dense', units: classes, activation: classes === 1 ? 'sigmoid' : 'softmax', useBias: true },
  ];
  return { data, validationSplit, loss, model };
}

describe('readTextRecords: JSONL', () => {
  it('reads one object per line, skipping empty lines, with each label as its key', () => {
    const file = write(
      'reviews.jsonl',
      [
        '{"text":"Great movie","label":1}',
        '',
        '{"text":"Awful film","label":"0"}',
        '  {"label":true,"text":"fine","extra":[1,2]}  ',
        '{"text":"meh","label":false}',
        '{"text":"yes","label":"1"}',
        '{"text":"no","label":0}',
        '',
      ].join('\n'),
    );
    expect(readTextRecords(spec(file))).toEqual({
      records: [
        { text: 'Great movie', label: '1', line: 1 },
        { text: 'Awful film', label: '0', line: 3 },
        { text: 'fine', label: 'true', line: 4 },
        { text: 'meh', label: 'false', line: 5 },
        { text: 'yes', label: '1', line: 6 },
        { text: 'no', label: '0', line: 7 },
      ],
      bad: [],
    });
  });

  it('accepts .ndjson, CRLF line ends, a BOM, and other field names', () => {
    const file = write('r.ndjson', '\uFEFF{"review":"good","y":1}\r\n{"review":"bad","y":0}\r\n');
    expect(readTextRecords(spec(file, { textField: 'review', labelField: 'y' })).records).toEqual([
      { text: 'good', label: '1', line: 1 },
      { text: 'bad', label: '0', line: 2 },
    ]);
  });

  it('skips each kind of bad row with a one-line file:line reason', () => {
    const file = write(
      'bad.jsonl',
      [
        '{"text":"good one","label":1}',
        'not json',
        '[1,2]',
        '{"label":1}',
        '{"text":"   ","label":1}',
        '{"text":5,"label":1}',
        '{"text":"x","label":[1]}',
        '{"text":"x"}',
        '{"text":"x","label":"  "}',
        '{"text":"good two","label":"spam"}',
        'null',
        '{"text":"x","label":null}',
      ].join('\n'),
    );
    const { records, bad } = readTextRecords(spec(file));
    expect(records).toEqual([
      { text: 'good one', label: '1', line: 1 },
      { text: 'good two', label: 'spam', line: 10 },
    ]);
    expect(bad).toEqual([
      `${file}:2: not valid JSON`,
      `${file}:3: not a JSON object`,
      `${file}:4: missing text field "text"`,
      `${file}:5: text field "text" is empty`,
      `${file}:6: text field "text" is not a string: 5`,
      `${file}:7: label [1] is not a class label (a string or a number)`,
      `${file}:8: missing label field "label"`,
      `${file}:9: label "  " is not a class label (a string or a number)`,
      `${file}:11: not a JSON object`,
      `${file}:12: label null is not a class label (a string or a number)`,
    ]);
  });

  it('does not take a field from the object prototype', () => {
    const file = write('proto.jsonl', '{"text":"a","label":1}\n{"label":1}\n');
    expect(dataError(() => readTextRecords(spec(file, { textField: 'toString' })))).toBe(
      `${file}: no rows with a text and a label; all 2 rows are bad, the first: ${file}:1: missing text field "toString"`,
    );
  });

  it('stops at the first bad row with badRows "fail"', () => {
    const file = write('fail.jsonl', '{"text":"ok","label":1}\n{"text":"x","label":"maybe"}\n{"label":0}\n');
    expect(dataError(() => readTextRecords(spec(file, { badRows: 'fail' })))).toBe(`${file}:3: missing text field "text"`);
  });
});

describe('readTextRecords: CSV', () => {
  it('reads columns by header name, ignoring other columns and their order', () => {
    const file = write('r.csv', 'id,sentiment,review\n1,1,"Loved it, truly"\n2,0,Boring\n');
    expect(readTextRecords(spec(file, { textField: 'review', labelField: 'sentiment' }))).toEqual({
      records: [
        { text: 'Loved it, truly', label: '1', line: 2 },
        { text: 'Boring', label: '0', line: 3 },
      ],
      bad: [],
    });
  });

  // Line numbers count the header as line 1; a record spanning lines is reported at its FIRST line.
  const badCsv = ['text,label', 'good one,1', '"multi', 'line review",0', '', ',1', 'fine,', 'only one field', 'a,ham', 'good two,0', ''];

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('skips bad rows with lines counted from the header as line 1 (%s)', (_name, eol) => {
    const file = write('bad.csv', badCsv.join(eol));
    const { records, bad } = readTextRecords(spec(file));
    expect(records).toEqual([
      { text: 'good one', label: '1', line: 2 },
      { text: `multi${eol}line review`, label: '0', line: 3 },
      { text: 'a', label: 'ham', line: 9 },
      { text: 'good two', label: '0', line: 10 },
    ]);
    expect(bad).toEqual([
      `${file}:6: text field "text" is empty`,
      `${file}:7: label "" is not a class label (a string or a number)`,
      `${file}:8: has 1 fields, but the header has 2`,
    ]);
  });

  it('reports a bad multi-line record at the line it starts on', () => {
    const file = write('multi.csv', '\uFEFFtext,label\r\nok,1\r\n"first\r\nsecond\r\nthird",\r\n');
    expect(readTextRecords(spec(file)).bad).toEqual([`${file}:3: label "" is not a class label (a string or a number)`]);
  });

  it('stops at the first bad row with badRows "fail"', () => {
    const file = write('fail.csv', badCsv.join('\n'));
    expect(dataError(() => readTextRecords(spec(file, { badRows: 'fail' })))).toBe(`${file}:6: text field "text" is empty`);
  });

  it('fails on a missing text or label column whatever badRows says', () => {
    const file = write('cols.csv', 'body,label\nhello,1\n');
    expect(dataError(() => readTextRecords(spec(file, { badRows: 'skip' })))).toBe(
      `${file}: no column "text" (named in data.textField); the header has body, label`,
    );
    expect(dataError(() => readTextRecords(spec(file, { textField: 'body', labelField: 'y' })))).toBe(
      `${file}: no column "y" (named in data.labelField); the header has body, label`,
    );
  });

  it('fails on an empty file, a header without rows, and a broken quote', () => {
    expect(dataError(() => readTextRecords(spec(write('empty.csv', ''))))).toBe(`${path.join(dir, 'empty.csv')}: the file is empty; expected a header row`);
    const headerOnly = write('header.csv', 'text,label\n');
    expect(dataError(() => readTextRecords(spec(headerOnly)))).toBe(`${headerOnly}: no rows with a text and a label`);
    const quote = write('quote.csv', 'text,label\n"open,1\n');
    expect(dataError(() => readTextRecords(spec(quote)))).toBe(`${quote}:2: Quote Not Closed: the parsing is finished with an opening quote`);
  });
});

describe('readTextRecords: files and formats', () => {
  it('takes data.format over the extension', () => {
    const file = write('data.txt', '{"text":"a b","label":1}\n');
    expect(readTextRecords(spec(file, { format: 'jsonl' })).records).toEqual([{ text: 'a b', label: '1', line: 1 }]);
    const csvNamedJsonl = write('data.jsonl', 'text,label\nx,0\n');
    expect(readTextRecords(spec(csvNamedJsonl, { format: 'csv' })).records).toEqual([{ text: 'x', label: '0', line: 2 }]);
  });

  it('asks for data.format when the extension says nothing', () => {
    const file = write('data.txt', 'text,label\nx,0\n');
    expect(dataError(() => readTextRecords(spec(file)))).toBe(`${file}: cannot tell the format from the extension ".txt"; set data.format to "csv" or "jsonl"`);
  });

  it('reports a missing file', () => {
    const file = path.join(dir, 'missing.jsonl');
    expect(dataError(() => readTextRecords(spec(file)))).toBe(`${file}: cannot read data file: no such file`);
  });

  it('fails when every row is bad, naming the first', () => {
    const file = write('allbad.jsonl', '{"text":"a","label":{}}\n[]\n');
    expect(dataError(() => readTextRecords(spec(file)))).toBe(
      `${file}: no rows with a text and a label; all 2 rows are bad, the first: ${file}:1: label {} is not a class label (a string or a number)`,
    );
  });
});

describe('encodeTexts', () => {
  it('writes padded token ids row by row and the labels', () => {
    const tokenizer = Tokenizer.fit(['b b a'], { numWords: 10, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS });
    const data = encodeTexts(['a', 'a b z b a'], Float32Array.from([1, 0]), tokenizer, { maxLength: 3, padding: 'post', truncating: 'post' });
    expect(data.rows).toBe(2);
    expect(data.featureCount).toBe(3);
    expect(Array.from(data.x)).toEqual([3, 0, 0, 3, 2, 1]);
    expect(Array.from(data.y)).toEqual([1, 0]);
  });
});

describe('prepareData on text', () => {
  const lines = [
    '{"text":"good film","label":1}',
    '{"text":"bad film","label":0}',
    '{"text":"good good acting","label":1}',
    'oops',
    '{"text":"bad plot","label":0}',
    '{"text":"zebra good","label":1}',
  ];

  it('splits off the last rows as validation and fits the tokenizer on the training rows only', () => {
    const file = write('reviews.jsonl', lines.join('\n'));
    const prepared = prepareData(job(spec(file, { maxLength: 3 }), 0.2));
    expect(prepared.featureNames).toEqual(['t0', 't1', 't2']);
    // 5 good rows: floor(5 * 0.8) = 4 train, the last 1 validation. "zebra" is only there.
    expect(prepared.tokenizer).toEqual({
      config: { numWords: 100, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS },
      words: ['<OOV>', 'good', 'film', 'bad', 'acting', 'plot'],
    });
    expect(prepared.train.rows).toBe(4);
    expect(prepared.train.featureCount).toBe(3);
    expect(Array.from(prepared.train.x)).toEqual([0, 2, 3, 0, 4, 3, 2, 2, 5, 0, 4, 6]);
    expect(Array.from(prepared.train.y)).toEqual([1, 0, 1, 0]);
    expect(prepared.validation.rows).toBe(1);
    expect(Array.from(prepared.validation.x)).toEqual([0, 1, 2]);
    expect(Array.from(prepared.validation.y)).toEqual([1]);
    expect(prepared.badRows).toEqual({ count: 1, examples: [`${file}:4: not valid JSON`] });
    expect(prepared.labels).toEqual(['0', '1']);
    expect(prepared.normalization).toBeUndefined();
  });

  it('uses every row for training without a validation split, and leaves out badRows when none', () => {
    const file = write('clean.jsonl', [lines[0], lines[1]].join('\n'));
    const prepared = prepareData(job(spec(file, { maxLength: 2, padding: 'post' })));
    expect(prepared.train.rows).toBe(2);
    expect(prepared.validation.rows).toBe(0);
    expect(prepared.validation.x.length).toBe(0);
    // film 2, good 1, bad 1: OOV 1, film 2, good 3, bad 4
    expect(Array.from(prepared.train.x)).toEqual([3, 2, 4, 2]);
    expect('badRows' in prepared).toBe(false);
  });

  it('keeps the first five bad-row reasons and the full count', () => {
    const file = write('many.jsonl', ['{"text":"a","label":1}', ...Array.from({ length: 7 }, () => '{"text":"b"}')].join('\n'));
    const prepared = prepareData(job(spec(file)));
    expect(prepared.badRows).toEqual({
      count: 7,
      examples: [2, 3, 4, 5, 6].map((n) => `${file}:${n}: missing label field "label"`),
    });
  });

  it('fails when the validation split leaves no training rows', () => {
    const file = write('one.jsonl', lines[0]!);
    expect(dataError(() => prepareData(job(spec(file), 0.5)))).toBe(`${file}: validationSplit 0.5 leaves no training rows`);
    expect(dataError(() => prepareData(job(spec(file), 0.5, 'sparseCategoricalCrossentropy', 2)))).toBe(`${file}: validationSplit 0.5 leaves no training rows`);
  });

  it('keeps a saved tokenizer (--init) instead of fitting one', () => {
    const file = write('reviews.jsonl', lines.join('\n'));
    const saved = Tokenizer.fit(['film zebra'], spec(file).tokenizer).toJSON();
    const prepared = prepareData(job(spec(file, { maxLength: 2 })), { tokenizer: saved });
    expect(prepared.tokenizer).toEqual(saved);
    expect(Array.from(prepared.train.x.subarray(0, 2))).toEqual([1, 2]);
  });
});

describe('prepareData on text: binary labels', () => {
  it('reads 0/1 in every accepted spelling as classes 0 and 1', () => {
    const file = write('b.jsonl', ['1', '"0"', 'true', 'false', '"1"', '0', '1.0', '"true"'].map((label) => `{"text":"t","label":${label}}`).join('\n'));
    const prepared = prepareData(job(spec(file)));
    expect(Array.from(prepared.train.y)).toEqual([1, 0, 1, 0, 1, 0, 1, 1]);
    expect(prepared.labels).toEqual(['0', '1']);
  });

  it('fails on a label other than 0/1 with the count, the first file:line and what to do', () => {
    const file = write('b.csv', 'text,label\na,1\nb,spam\nc,0\nd,2\n');
    expect(dataError(() => prepareData(job(spec(file))))).toBe(
      `2 rows have labels outside the label set [0, 1]; first: ${file}:3 label "spam"; binaryCrossentropy needs 0/1 labels, or two names in data.labels`,
    );
  });

  it('skips such rows with unknownLabels "skip", before the split, and reports them as bad rows', () => {
    const file = write('b.csv', 'text,label\na,1\nb,spam\nc,0\n,1\nd,0\n');
    const prepared = prepareData(job(spec(file, { unknownLabels: 'skip' }), 0.5));
    // 3 rows kept (a, c, d): 1 training row, 2 validation rows.
    expect(Array.from(prepared.train.y)).toEqual([1]);
    expect(Array.from(prepared.validation.y)).toEqual([0, 0]);
    expect(prepared.badRows).toEqual({
      count: 2,
      examples: [`${file}:5: text field "text" is empty`, `${file}:3: label "spam" is outside the label set [0, 1]`],
    });
  });

  it('maps two listed names to 0 and 1, in the order listed', () => {
    const file = write('b.jsonl', '{"text":"a","label":"spam"}\n{"text":"b","label":"ham"}\n');
    const prepared = prepareData(job(spec(file, { labels: ['spam', 'ham'] })));
    expect(Array.from(prepared.train.y)).toEqual([0, 1]);
    expect(prepared.labels).toEqual(['spam', 'ham']);
    expect(dataError(() => prepareData(job(spec(file, { labels: ['ham', 'eggs'] }))))).toBe(
      `1 row has a label outside the label set [ham, eggs]; first: ${file}:1 label "spam"; add them to data.labels, or set data.unknownLabels to "skip"`,
    );
  });

  it('refuses other than two listed names', () => {
    const file = write('b.jsonl', '{"text":"a","label":"spam"}\n');
    expect(configError(() => prepareData(job(spec(file, { labels: ['a', 'b', 'c'] }))))).toBe(
      'data.labels lists 3 labels, but binaryCrossentropy needs exactly two (class 0, then class 1)',
    );
  });
});

describe('prepareData on text: several classes', () => {
  const groups = ['spam', 'easy_ham', 'hard_ham', 'spam', 'easy_ham', 'hard_ham', 'spam', 'easy_ham'];
  const jsonl = (labels: readonly unknown[]): string => labels.map((label, i) => JSON.stringify({ text: `text ${i}`, label })).join('\n');

  it('takes the sorted labels of the training split as the classes of string labels in JSONL', () => {
    const file = write('g.jsonl', jsonl(groups));
    const prepared = prepareData(job(spec(file), 0.25, 'sparseCategoricalCrossentropy', 3));
    expect(prepared.labels).toEqual(['easy_ham', 'hard_ham', 'spam']);
    expect(Array.from(prepared.train.y)).toEqual([2, 0, 1, 2, 0, 1]);
    expect(Array.from(prepared.validation.y)).toEqual([2, 0]);
  });

  it('reads string labels in CSV, and integer labels sorted as numbers', () => {
    const csvFile = write('g.csv', ['text,label', ...groups.map((g, i) => `t${i},${g}`)].join('\n'));
    expect(prepareData(job(spec(csvFile), 0, 'categoricalCrossentropy', 3)).labels).toEqual(['easy_ham', 'hard_ham', 'spam']);
    const ints = write('i.jsonl', jsonl([10, 2, '1', 2, '10', 1.0]));
    const prepared = prepareData(job(spec(ints), 0, 'sparseCategoricalCrossentropy', 3));
    expect(prepared.labels).toEqual(['1', '2', '10']);
    expect(Array.from(prepared.train.y)).toEqual([2, 1, 0, 1, 2, 0]);
  });

  it('uses listed labels in the order listed', () => {
    const file = write('g.jsonl', jsonl(groups));
    const prepared = prepareData(job(spec(file, { labels: ['spam', 'hard_ham', 'easy_ham'] }), 0, 'sparseCategoricalCrossentropy', 3));
    expect(prepared.labels).toEqual(['spam', 'hard_ham', 'easy_ham']);
    expect(Array.from(prepared.train.y)).toEqual([0, 2, 1, 0, 2, 1, 0, 2]);
  });

  it('fails on a validation label the training split lacks, naming the count and the first file:line', () => {
    const file = write('g.jsonl', jsonl(['a', 'b', 'a', 'b', 'c', 'a', 'c']));
    expect(dataError(() => prepareData(job(spec(file), 3 / 7, 'sparseCategoricalCrossentropy', 2)))).toBe(
      `2 rows have labels outside the label set [a, b]; first: ${file}:5 label "c"; the label set is the training split's: list every class in data.labels, or set data.unknownLabels to "skip"`,
    );
  });

  it('skips them with unknownLabels "skip", keeping the split where it was', () => {
    const file = write('g.jsonl', jsonl(['a', 'b', 'a', 'b', 'c', 'a', 'c']));
    const prepared = prepareData(job(spec(file, { unknownLabels: 'skip' }), 3 / 7, 'sparseCategoricalCrossentropy', 2));
    expect(Array.from(prepared.train.y)).toEqual([0, 1, 0, 1]);
    expect(Array.from(prepared.validation.y)).toEqual([0]);
    expect(prepared.badRows).toEqual({
      count: 2,
      examples: [`${file}:5: label "c" is outside the label set [a, b]`, `${file}:7: label "c" is outside the label set [a, b]`],
    });
  });

  it('fails when unknownLabels "skip" leaves no row', () => {
    const file = write('g.jsonl', jsonl(['x', 'y']));
    expect(dataError(() => prepareData(job(spec(file, { labels: ['a', 'b'], unknownLabels: 'skip' }), 0, 'sparseCategoricalCrossentropy', 2)))).toBe(
      `${file}: all 2 rows have labels outside the label set [a, b] (unknownLabels "skip" leaves none); first: ${file}:1 label "x"`,
    );
  });

  it('needs one head unit per class', () => {
    const file = write('g.jsonl', jsonl(['a', 'b', 'c', 'd']));
    expect(configError(() => prepareData(job(spec(file), 0, 'sparseCategoricalCrossentropy', 3)))).toBe(
      'model[2].units is 3, but the training data has 4 labels (a, b, c, d)',
    );
    expect(configError(() => prepareData(job(spec(file, { labels: ['a', 'b', 'c', 'd', 'e'] }), 0, 'categoricalCrossentropy', 3)))).toBe(
      'model[2].units is 3, but data.labels lists 5 labels (a, b, c, d, e)',
    );
  });

  it('keeps a saved label set (--init, evaluate), and refuses listed labels that differ from it', () => {
    const file = write('g.jsonl', jsonl(['a', 'b']));
    const prepared = prepareData(job(spec(file), 0, 'sparseCategoricalCrossentropy', 3), { labels: ['c', 'b', 'a'] });
    expect(prepared.labels).toEqual(['c', 'b', 'a']);
    expect(Array.from(prepared.train.y)).toEqual([2, 1]);
    expect(
      configError(() => prepareData(job(spec(file, { labels: ['a', 'b', 'c'] }), 0, 'sparseCategoricalCrossentropy', 3), { labels: ['c', 'b', 'a'] })),
    ).toBe('data.labels: the label set [a, b, c] differs from the label set [c, b, a] saved with the model');
  });
});

describe('prepareData on text: regression losses', () => {
  it.each(['meanSquaredError', 'meanAbsoluteError', 'huber'] as const)('refuses %s', (loss) => {
    const file = write('r.jsonl', '{"text":"a","label":1}\n');
    expect(configError(() => prepareData(job(spec(file), 0, loss)))).toBe(
      `loss: ${loss} regresses a number, but text data has class labels; use binaryCrossentropy, sparseCategoricalCrossentropy, categoricalCrossentropy`,
    );
  });
});
