import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KERAS_FILTERS, type TextDataSpec } from '../config/schema.js';
import { DataError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { prepareData } from './prepare.js';
import { encodeTexts, prepareTextData, readTextRecords } from './textData.js';
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
    ...overrides,
  };
}

const dataError = (fn: () => unknown): string => thrown(fn, DataError, 'E_DATA').message;

describe('readTextRecords: JSONL', () => {
  it('reads one object per line, skipping empty lines, with 0/1 labels in every accepted spelling', () => {
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
        { text: 'Great movie', label: 1, line: 1 },
        { text: 'Awful film', label: 0, line: 3 },
        { text: 'fine', label: 1, line: 4 },
        { text: 'meh', label: 0, line: 5 },
        { text: 'yes', label: 1, line: 6 },
        { text: 'no', label: 0, line: 7 },
      ],
      bad: [],
    });
  });

  it('accepts .ndjson, CRLF line ends, a BOM, and other field names', () => {
    const file = write('r.ndjson', '\uFEFF{"review":"good","y":1}\r\n{"review":"bad","y":0}\r\n');
    expect(readTextRecords(spec(file, { textField: 'review', labelField: 'y' })).records).toEqual([
      { text: 'good', label: 1, line: 1 },
      { text: 'bad', label: 0, line: 2 },
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
        '{"text":"x","label":"maybe"}',
        '{"text":"x"}',
        '{"text":"x","label":2}',
        '{"text":"good two","label":0}',
        'null',
        '{"text":"x","label":null}',
      ].join('\n'),
    );
    const { records, bad } = readTextRecords(spec(file));
    expect(records).toEqual([
      { text: 'good one', label: 1, line: 1 },
      { text: 'good two', label: 0, line: 10 },
    ]);
    expect(bad).toEqual([
      `${file}:2: not valid JSON`,
      `${file}:3: not a JSON object`,
      `${file}:4: missing text field "text"`,
      `${file}:5: text field "text" is empty`,
      `${file}:6: text field "text" is not a string: 5`,
      `${file}:7: label "maybe" is not 0 or 1`,
      `${file}:8: missing label field "label"`,
      `${file}:9: label 2 is not 0 or 1`,
      `${file}:11: not a JSON object`,
      `${file}:12: label null is not 0 or 1`,
    ]);
  });

  it('does not take a field from the object prototype', () => {
    const file = write('proto.jsonl', '{"text":"a","label":1}\n{"label":1}\n');
    expect(dataError(() => readTextRecords(spec(file, { textField: 'toString' })))).toBe(
      `${file}: no rows with a text and a 0/1 label; all 2 rows are bad, the first: ${file}:1: missing text field "toString"`,
    );
  });

  it('stops at the first bad row with badRows "fail"', () => {
    const file = write('fail.jsonl', '{"text":"ok","label":1}\n{"text":"x","label":"maybe"}\n{"label":0}\n');
    expect(dataError(() => readTextRecords(spec(file, { badRows: 'fail' })))).toBe(`${file}:2: label "maybe" is not 0 or 1`);
  });
});

describe('readTextRecords: CSV', () => {
  it('reads columns by header name, ignoring other columns and their order', () => {
    const file = write('r.csv', 'id,sentiment,review\n1,1,"Loved it, truly"\n2,0,Boring\n');
    expect(readTextRecords(spec(file, { textField: 'review', labelField: 'sentiment' }))).toEqual({
      records: [
        { text: 'Loved it, truly', label: 1, line: 2 },
        { text: 'Boring', label: 0, line: 3 },
      ],
      bad: [],
    });
  });

  // Line numbers count the header as line 1; a record spanning lines is reported at its FIRST line.
  const badCsv = ['text,label', 'good one,1', '"multi', 'line review",0', '', ',1', 'fine,maybe', 'only one field', 'a,true', 'good two,0', ''];

  it.each([
    ['LF', '\n'],
    ['CRLF', '\r\n'],
  ])('skips bad rows with lines counted from the header as line 1 (%s)', (_name, eol) => {
    const file = write('bad.csv', badCsv.join(eol));
    const { records, bad } = readTextRecords(spec(file));
    expect(records).toEqual([
      { text: 'good one', label: 1, line: 2 },
      { text: `multi${eol}line review`, label: 0, line: 3 },
      { text: 'good two', label: 0, line: 10 },
    ]);
    expect(bad).toEqual([
      `${file}:6: text field "text" is empty`,
      `${file}:7: label "maybe" is not 0 or 1`,
      `${file}:8: has 1 fields, but the header has 2`,
      `${file}:9: label "true" is not 0 or 1`,
    ]);
  });

  it('reports a bad multi-line record at the line it starts on', () => {
    const file = write('multi.csv', '\uFEFFtext,label\r\nok,1\r\n"first\r\nsecond\r\nthird",2\r\n');
    expect(readTextRecords(spec(file)).bad).toEqual([`${file}:3: label "2" is not 0 or 1`]);
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
    expect(dataError(() => readTextRecords(spec(headerOnly)))).toBe(`${headerOnly}: no rows with a text and a 0/1 label`);
    const quote = write('quote.csv', 'text,label\n"open,1\n');
    expect(dataError(() => readTextRecords(spec(quote)))).toBe(`${quote}:2: Quote Not Closed: the parsing is finished with an opening quote`);
  });
});

describe('readTextRecords: files and formats', () => {
  it('takes data.format over the extension', () => {
    const file = write('data.txt', '{"text":"a b","label":1}\n');
    expect(readTextRecords(spec(file, { format: 'jsonl' })).records).toEqual([{ text: 'a b', label: 1, line: 1 }]);
    const csvNamedJsonl = write('data.jsonl', 'text,label\nx,0\n');
    expect(readTextRecords(spec(csvNamedJsonl, { format: 'csv' })).records).toEqual([{ text: 'x', label: 0, line: 2 }]);
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
    const file = write('allbad.jsonl', '{"text":"a","label":3}\n[]\n');
    expect(dataError(() => readTextRecords(spec(file)))).toBe(
      `${file}: no rows with a text and a 0/1 label; all 2 rows are bad, the first: ${file}:1: label 3 is not 0 or 1`,
    );
  });
});

describe('encodeTexts', () => {
  it('writes padded token ids row by row and the labels', () => {
    const tokenizer = Tokenizer.fit(['b b a'], { numWords: 10, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS });
    const data = encodeTexts(
      [
        { text: 'a', label: 1 },
        { text: 'a b z b a', label: 0 },
      ],
      tokenizer,
      { maxLength: 3, padding: 'post', truncating: 'post' },
    );
    expect(data.rows).toBe(2);
    expect(data.featureCount).toBe(3);
    expect(Array.from(data.x)).toEqual([3, 0, 0, 3, 2, 1]);
    expect(Array.from(data.y)).toEqual([1, 0]);
  });
});

describe('prepareTextData', () => {
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
    const prepared = prepareTextData(spec(file, { maxLength: 3 }), 0.2);
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
    expect(prepared.normalization).toBeUndefined();
  });

  it('uses every row for training without a validation split, and leaves out badRows when none', () => {
    const file = write('clean.jsonl', [lines[0], lines[1]].join('\n'));
    const prepared = prepareTextData(spec(file, { maxLength: 2, padding: 'post' }), 0);
    expect(prepared.train.rows).toBe(2);
    expect(prepared.validation.rows).toBe(0);
    expect(prepared.validation.x.length).toBe(0);
    // film 2, good 1, bad 1: OOV 1, film 2, good 3, bad 4
    expect(Array.from(prepared.train.x)).toEqual([3, 2, 4, 2]);
    expect('badRows' in prepared).toBe(false);
  });

  it('keeps the first five bad-row reasons and the full count', () => {
    const file = write('many.jsonl', ['{"text":"a","label":1}', ...Array.from({ length: 7 }, (_, i) => `{"text":"b","label":${i + 2}}`)].join('\n'));
    const prepared = prepareTextData(spec(file), 0);
    expect(prepared.badRows).toEqual({
      count: 7,
      examples: [2, 3, 4, 5, 6].map((n) => `${file}:${n}: label ${n} is not 0 or 1`),
    });
  });

  it('fails when the validation split leaves no training rows', () => {
    const file = write('one.jsonl', lines[0]!);
    expect(dataError(() => prepareTextData(spec(file), 0.5))).toBe(`${file}: validationSplit 0.5 leaves no training rows`);
  });

  it('is what prepareData returns for a text data block', () => {
    const file = write('reviews.jsonl', lines.join('\n'));
    const viaData = prepareData({ data: spec(file, { maxLength: 3 }), validationSplit: 0.2 });
    expect(viaData.tokenizer?.words).toEqual(['<OOV>', 'good', 'film', 'bad', 'acting', 'plot']);
    expect(Array.from(viaData.validation.x)).toEqual([0, 1, 2]);
  });
});
