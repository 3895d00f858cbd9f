import { describe, expect, it } from 'vitest';
import { ConfigError } from '../errors.js';
import { thrown } from '../thrown.testutil.js';
import { LabelSet, labelKey, listLabels, sortLabels } from './labels.js';

describe('labelKey', () => {
  it('spells a number one way, whether written as a number or a string', () => {
    expect([2, '2', ' 2 ', '2.0', '+2', '02', '2e0', 2.0].map(labelKey)).toEqual(Array(8).fill('2'));
    expect([0.5, '.5', '-0', -1, '-1.50'].map(labelKey)).toEqual(['0.5', '0.5', '0', '-1', '-1.5']);
  });

  it('keeps other strings as written, trimmed, and gives booleans their names', () => {
    expect(['spam', ' easy ham ', '0x10', 'Infinity', '1,5'].map(labelKey)).toEqual(['spam', 'easy ham', '0x10', 'Infinity', '1,5']);
    expect([true, false].map(labelKey)).toEqual(['true', 'false']);
  });

  it('is undefined for what is no label', () => {
    expect(['', '   ', null, undefined, {}, [1], Number.NaN, Number.POSITIVE_INFINITY].map(labelKey)).toEqual(Array(8).fill(undefined));
  });
});

describe('sortLabels', () => {
  it('sorts numbers as numbers, without repeats', () => {
    expect(sortLabels(['10', '9', '-1', '9', '100', '0.5'])).toEqual(['-1', '0.5', '9', '10', '100']);
  });

  it('sorts by code units once any label is not a number, whatever the locale', () => {
    expect(sortLabels(['spam', '10', 'Ham', '9', 'éa', 'eggs'])).toEqual(['10', '9', 'Ham', 'eggs', 'spam', 'éa']);
  });
});

describe('LabelSet', () => {
  it('maps listed labels to their positions, whatever their spelling', () => {
    const set = LabelSet.of(['spam', 3, '1.0'], 'listed');
    expect(set.names).toEqual(['spam', '3', '1']);
    expect([labelKey('spam'), labelKey('3'), labelKey(1)].map((k) => set.classOf(k!))).toEqual([0, 1, 2]);
    expect(set.classOf('ham')).toBeUndefined();
    expect(set.origin).toBe('listed');
  });

  it('refuses two spellings of one label', () => {
    expect(thrown(() => LabelSet.of(['a', '2', '2.0'], 'listed'), ConfigError, 'E_CONFIG').message).toBe('data.labels: "2" and "2.0" are the same label');
    expect(thrown(() => LabelSet.of(['a', ' '], 'saved', 'the saved labels'), ConfigError, 'E_CONFIG').message).toBe('the saved labels[1]: " " is not a label');
  });

  it('binary: 0 and 1, also as false and true', () => {
    const set = LabelSet.binary();
    expect(set.names).toEqual(['0', '1']);
    expect(['0', '1', 'false', 'true', '2', 'yes'].map((k) => set.classOf(k))).toEqual([0, 1, 0, 1, undefined, undefined]);
  });

  it('from the training split: the distinct labels, sorted', () => {
    const set = LabelSet.fromTraining(['b', 'a', 'b', 'c']);
    expect(set.names).toEqual(['a', 'b', 'c']);
    expect(set.size).toBe(3);
    expect(String(set)).toBe('[a, b, c]');
  });

  it('lists at most ten labels in a message, each cut short', () => {
    const names = Array.from({ length: 12 }, (_, i) => `class${i}`);
    expect(listLabels(names)).toBe('class0, class1, class2, class3, class4, class5, class6, class7, class8, class9, … (12 labels)');
    expect(listLabels(['x'.repeat(50)])).toBe(`${'x'.repeat(37)}...`);
  });
});
