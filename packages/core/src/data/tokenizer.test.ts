import { describe, expect, it } from 'vitest';
import { KERAS_FILTERS, type TokenizerSpec } from '../config/schema.js';
import { ModelError } from '../errors.js';
import { padSequence, Tokenizer, wordsOf } from './tokenizer.js';

function spec(overrides: Partial<TokenizerSpec> = {}): TokenizerSpec {
  return { numWords: 100, oovToken: '<OOV>', lowercase: true, filters: KERAS_FILTERS, ...overrides };
}

describe('wordsOf', () => {
  it('lowercases, turns the default filters into separators, and drops empty words', () => {
    expect(wordsOf('Hello, World!  It\'s  a\tTEST-case.\nDone', spec())).toEqual(['hello', 'world', "it's", 'a', 'test', 'case', 'done']);
  });

  it('keeps case when lowercase is off', () => {
    expect(wordsOf('Hello hello HELLO', spec({ lowercase: false }))).toEqual(['Hello', 'hello', 'HELLO']);
  });

  it('uses only the given filters, and splits only on spaces like Keras', () => {
    // "," is not a filter here and "\t" is not a separator: both stay inside words.
    expect(wordsOf('a,b c;d\te', spec({ filters: ';' }))).toEqual(['a,b', 'c', 'd\te']);
    expect(wordsOf('a,b  c', spec({ filters: '' }))).toEqual(['a,b', 'c']);
  });

  it('treats regex-special and astral filter characters literally', () => {
    expect(wordsOf('a]b^c\\d-e😀f.g', spec({ filters: ']^\\-😀' }))).toEqual(['a', 'b', 'c', 'd', 'e', 'f.g']);
  });

  it('returns no words for an empty or all-filter text', () => {
    expect(wordsOf('', spec())).toEqual([]);
    expect(wordsOf(' ... !!! ', spec())).toEqual([]);
  });
});

describe('Tokenizer.fit', () => {
  it('orders words by count, ties by first appearance, after the OOV token at index 1', () => {
    // counts: b 3, c 2, a 2, d 1, e 1 ; first appearance: c, a, b, d, e
    const t = Tokenizer.fit(['c a b', 'b d a', 'b c e'], spec());
    expect(t.toJSON().words).toEqual(['<OOV>', 'b', 'c', 'a', 'd', 'e']);
    expect(t.vocabularySize).toBe(7);
    expect(t.textToSequence('a b c d e')).toEqual([4, 2, 3, 5, 6]);
  });

  it('starts words at index 1 without an OOV token', () => {
    const t = Tokenizer.fit(['x y y'], spec({ oovToken: null }));
    expect(t.toJSON().words).toEqual(['y', 'x']);
    expect(t.textToSequence('y x')).toEqual([1, 2]);
    expect(t.vocabularySize).toBe(3);
  });

  it('counts words across texts after lowercasing and filtering', () => {
    const t = Tokenizer.fit(['Cat! cat.', 'DOG, cat'], spec());
    expect(t.toJSON().words).toEqual(['<OOV>', 'cat', 'dog']);
  });

  it('maps unknown words to the OOV index 1', () => {
    const t = Tokenizer.fit(['good movie', 'bad movie'], spec());
    expect(t.toJSON().words).toEqual(['<OOV>', 'movie', 'good', 'bad']);
    expect(t.textToSequence('Good unseen movie, really bad')).toEqual([3, 1, 2, 1, 4]);
  });

  it('drops unknown words without an OOV token', () => {
    const t = Tokenizer.fit(['good movie', 'bad movie'], spec({ oovToken: null }));
    expect(t.textToSequence('good unseen movie really bad')).toEqual([2, 1, 3]);
    expect(t.textToSequence('nothing known')).toEqual([]);
  });

  it('keeps only indices below numWords: numWords 3 with OOV keeps OOV and the most frequent word', () => {
    const t = Tokenizer.fit(['a b b c c c'], spec({ numWords: 3 }));
    expect(t.toJSON().words).toEqual(['<OOV>', 'c']);
    expect(t.vocabularySize).toBe(3);
    // b and a are known to Keras's word_index but at or past num_words: they become OOV.
    expect(t.textToSequence('a b c')).toEqual([1, 1, 2]);
  });

  it('keeps numWords - 1 words without OOV and drops the rest', () => {
    const t = Tokenizer.fit(['a b b c c c'], spec({ numWords: 3, oovToken: null }));
    expect(t.toJSON().words).toEqual(['c', 'b']);
    expect(t.textToSequence('a b c')).toEqual([2, 1]);
  });

  it('gives the OOV token index 1 even when it appears in the texts', () => {
    const t = Tokenizer.fit(['oov x oov', 'y'], spec({ oovToken: 'oov' }));
    expect(t.toJSON().words).toEqual(['oov', 'x', 'y']);
    expect(t.textToSequence('oov z y')).toEqual([1, 1, 3]);
  });

  it('accepts any iterable of texts', () => {
    function* texts(): Generator<string> {
      yield 'one two';
      yield 'two';
    }
    expect(Tokenizer.fit(texts(), spec()).toJSON().words).toEqual(['<OOV>', 'two', 'one']);
  });

  it('has only padding (and OOV) when fitted on no words', () => {
    const t = Tokenizer.fit([], spec());
    expect(t.toJSON().words).toEqual(['<OOV>']);
    expect(t.vocabularySize).toBe(2);
    expect(t.textToSequence('anything')).toEqual([1]);
  });
});

describe('Tokenizer JSON', () => {
  it('round-trips through toJSON, JSON text and fromJSON', () => {
    const config = spec({ numWords: 5, lowercase: false, filters: '.' });
    const fitted = Tokenizer.fit(['The cat. The dog. A cat sat'], config);
    const json = fitted.toJSON();
    expect(json).toEqual({ config, words: ['<OOV>', 'The', 'cat', 'dog'] });
    const restored = Tokenizer.fromJSON(JSON.parse(JSON.stringify(json)));
    expect(restored.toJSON()).toEqual(json);
    expect(restored.vocabularySize).toBe(5);
    expect(restored.textToSequence('The dog. the sat')).toEqual([2, 4, 1, 1]);
    expect(restored.textToSequence('The dog. the sat')).toEqual(fitted.textToSequence('The dog. the sat'));
  });

  it('does not share state with the JSON it came from or gave out', () => {
    const json = { config: spec({ numWords: 10 }), words: ['<OOV>', 'a'] };
    const t = Tokenizer.fromJSON(json);
    json.words.push('b');
    json.config.numWords = 2;
    const out = t.toJSON();
    out.words.push('c');
    expect(t.toJSON()).toEqual({ config: spec({ numWords: 10 }), words: ['<OOV>', 'a'] });
  });

  it('rejects saved words that do not fit the config', () => {
    expect(() => Tokenizer.fromJSON({ config: spec({ numWords: 2 }), words: ['<OOV>', 'a'] })).toThrow(
      new ModelError('tokenizer: 2 words saved, but numWords 2 allows at most 1'),
    );
    expect(() => Tokenizer.fromJSON({ config: spec(), words: ['a'] })).toThrow(
      new ModelError('tokenizer: the first saved word should be the OOV token "<OOV>", not "a"'),
    );
    expect(() => Tokenizer.fromJSON({ config: spec({ oovToken: null }), words: ['a', 'a'] })).toThrow(
      new ModelError('tokenizer: word "a" is saved twice'),
    );
    expect(() => Tokenizer.fromJSON({ config: spec(), words: ['<OOV>', ''] })).toThrow(ModelError);
  });
});

describe('padSequence', () => {
  /** Pads into the middle of a larger array, so writes outside the window would show. */
  function pad(sequence: number[], maxLength: number, padding: 'pre' | 'post', truncating: 'pre' | 'post'): number[] {
    const out = new Float32Array(maxLength + 2).fill(9);
    padSequence(sequence, maxLength, padding, truncating, out, 1);
    expect(out[0]).toBe(9);
    expect(out[maxLength + 1]).toBe(9);
    return Array.from(out.subarray(1, maxLength + 1));
  }

  it.each([
    ['pre', 'pre', [0, 0, 1, 2, 3]],
    ['pre', 'post', [0, 0, 1, 2, 3]],
    ['post', 'pre', [1, 2, 3, 0, 0]],
    ['post', 'post', [1, 2, 3, 0, 0]],
  ] as const)('pads a shorter sequence with padding %s (truncating %s)', (padding, truncating, expected) => {
    expect(pad([1, 2, 3], 5, padding, truncating)).toEqual(expected);
  });

  it.each([
    ['pre', 'pre', [3, 4, 5]],
    ['post', 'pre', [3, 4, 5]],
    ['pre', 'post', [1, 2, 3]],
    ['post', 'post', [1, 2, 3]],
  ] as const)('truncates a longer sequence with padding %s, truncating %s', (padding, truncating, expected) => {
    expect(pad([1, 2, 3, 4, 5], 3, padding, truncating)).toEqual(expected);
  });

  it('copies a sequence of exactly maxLength unchanged', () => {
    expect(pad([7, 8, 9], 3, 'pre', 'pre')).toEqual([7, 8, 9]);
    expect(pad([7, 8, 9], 3, 'post', 'post')).toEqual([7, 8, 9]);
  });

  it('writes all zeros for an empty sequence, overwriting what was there', () => {
    expect(pad([], 4, 'pre', 'pre')).toEqual([0, 0, 0, 0]);
    expect(pad([], 4, 'post', 'post')).toEqual([0, 0, 0, 0]);
  });

  it('refuses a window that does not fit the output array', () => {
    expect(() => padSequence([1], 3, 'pre', 'pre', new Float32Array(4), 2)).toThrow(RangeError);
  });
});
