import { describe, expect, it } from 'vitest';
import { csvField, formatTablePredictions, formatTextPredictions, shortFloat32 } from './predictionFormat.js';

const f32 = (values: number[]) => Float32Array.from(values);

describe('shortFloat32 and csvField', () => {
  it('writes a float32 with the fewest digits that read back as the same float32', () => {
    expect(shortFloat32(f32([0.1])[0]!)).toBe(0.1);
    expect(shortFloat32(f32([1 / 3])[0]!)).toBe(0.33333334);
    expect(shortFloat32(f32([1e-7])[0]!)).toBe(1e-7);
    expect(shortFloat32(-2)).toBe(-2);
    for (const value of f32([Math.PI, 123456.789, 2.5e-12, 0.9999999])) expect(Math.fround(shortFloat32(value))).toBe(value);
    expect(shortFloat32(Number.NaN)).toBeNaN();
  });

  it('quotes a field only when CSV needs it', () => {
    expect(csvField('spam')).toBe('spam');
    expect(csvField(0.5)).toBe('0.5');
    expect(csvField('a,b')).toBe('"a,b"');
    expect(csvField('say "hi"')).toBe('"say ""hi"""');
    expect(csvField(' padded')).toBe('" padded"');
  });
});

describe('formatTextPredictions', () => {
  const texts = ['free cash', 'build, review'];
  it('keeps the one-unit forms: probability<TAB>text, and [{text, probability}]', () => {
    const head = { outputs: f32([0.875, 0.125]), units: 1, labels: ['0', '1'] };
    expect(formatTextPredictions(texts, head, false)).toBe('0.8750\tfree cash\n0.1250\tbuild, review\n');
    expect(JSON.parse(formatTextPredictions(texts, head, true))).toEqual([
      { text: 'free cash', probability: 0.875 },
      { text: 'build, review', probability: 0.125 },
    ]);
    expect(formatTextPredictions([], head, true)).toBe('[]\n');
  });

  it('gives a multi-class head\'s class name and its probabilities by name', () => {
    const head = { outputs: f32([0.25, 0.5, 0.25, 0.125, 0.125, 0.75]), units: 3, labels: ['ham', 'spam', '2'] };
    expect(formatTextPredictions(texts, head, false)).toBe('spam\tham 0.2500  spam 0.5000  2 0.2500\tfree cash\n2\tham 0.1250  spam 0.1250  2 0.7500\tbuild, review\n');
    expect(JSON.parse(formatTextPredictions(texts, head, true))).toEqual([
      { text: 'free cash', label: 'spam', probabilities: { ham: 0.25, spam: 0.5, 2: 0.25 } },
      { text: 'build, review', label: '2', probabilities: { ham: 0.125, spam: 0.125, 2: 0.75 } },
    ]);
  });
});

describe('formatTablePredictions', () => {
  it('regression: a prediction column, or {prediction} lines', () => {
    const head = { outputs: f32([21.5, 0.1]), units: 1 };
    expect(formatTablePredictions(2, head, false)).toBe('prediction\n21.5\n0.1\n');
    expect(formatTablePredictions(2, head, true)).toBe('{"prediction":21.5}\n{"prediction":0.1}\n');
    expect(formatTablePredictions(0, head, false)).toBe('prediction\n');
    expect(formatTablePredictions(0, head, true)).toBe('');
  });

  it('classifiers: the label and one p_<label> column per class; a one-unit head has two classes, class 1 above 0.5', () => {
    const binary = { outputs: f32([0.75, 0.5]), units: 1, labels: ['no', 'yes, sure'] };
    expect(formatTablePredictions(2, binary, false)).toBe('label,p_no,"p_yes, sure"\n"yes, sure",0.25,0.75\nno,0.5,0.5\n');
    const classes = { outputs: f32([0.25, 0.5, 0.25]), units: 3, labels: ['a', 'b', 'c'] };
    expect(formatTablePredictions(1, classes, true)).toBe('{"label":"b","probabilities":{"a":0.25,"b":0.5,"c":0.25}}\n');
  });
});
