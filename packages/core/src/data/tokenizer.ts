import type { TokenizerSpec } from '../config/schema.js';
import { ModelError } from '../errors.js';

/** A fitted tokenizer as saved beside the model (adamant.json). */
export interface TokenizerJSON {
  config: TokenizerSpec;
  /** Words in index order: words[0] has index 1 (the OOV token when there is one). Only indices < numWords. */
  words: string[];
}

/** A character class matching every code point of `filters` (escaped as \u{...}), or null for none. */
function filterPattern(filters: string): RegExp | null {
  const codePoints = new Set<number>();
  for (const ch of filters) codePoints.add(ch.codePointAt(0)!);
  if (codePoints.size === 0) return null;
  const body = [...codePoints].map((c) => `\\u{${c.toString(16)}}`).join('');
  return new RegExp(`[${body}]`, 'gu');
}

/**
 * Keras `text_to_word_sequence`: optionally lowercase, turn every character of `filters` into a
 * space, split on spaces (only " ", as Keras does) and drop the empty strings.
 */
export function wordsOf(text: string, options: Pick<TokenizerSpec, 'lowercase' | 'filters'>): string[] {
  return splitWords(text, options.lowercase, filterPattern(options.filters));
}

function splitWords(text: string, lowercase: boolean, filters: RegExp | null): string[] {
  let s = lowercase ? text.toLowerCase() : text;
  if (filters) s = s.replace(filters, ' ');
  return s.split(' ').filter((w) => w !== '');
}

/**
 * Keras's `Tokenizer` (fit_on_texts + texts_to_sequences) with `num_words`. Index 0 is padding,
 * the OOV token (when set) is index 1, and the other words follow by count, most frequent first,
 * ties in order of first appearance. Only indices below `numWords` are kept. Build one with
 * `Tokenizer.fit` on the training texts, or `Tokenizer.fromJSON` from a saved model.
 */
export class Tokenizer {
  readonly #config: TokenizerSpec;
  readonly #words: readonly string[];
  readonly #index: ReadonlyMap<string, number>;
  readonly #filters: RegExp | null;

  private constructor(config: TokenizerSpec, words: readonly string[]) {
    this.#config = { ...config };
    this.#words = words;
    this.#index = new Map(words.map((w, i) => [w, i + 1]));
    this.#filters = filterPattern(config.filters);
  }

  static fit(texts: Iterable<string>, config: TokenizerSpec): Tokenizer {
    const filters = filterPattern(config.filters);
    // A Map iterates in insertion order: first appearance, like Keras's OrderedDict.
    const counts = new Map<string, number>();
    for (const text of texts) {
      for (const w of splitWords(text, config.lowercase, filters)) counts.set(w, (counts.get(w) ?? 0) + 1);
    }
    // Keras would list a word equal to the OOV token twice and give the OOV token that second
    // index; here the OOV token keeps index 1 and the word is not listed again.
    if (config.oovToken !== null) counts.delete(config.oovToken);
    // Array.prototype.sort is stable, like Python's sort(reverse=True): ties keep first appearance.
    const byCount = [...counts].sort((a, b) => b[1] - a[1]).map(([w]) => w);
    const ranked = config.oovToken === null ? byCount : [config.oovToken, ...byCount];
    return new Tokenizer(config, ranked.slice(0, config.numWords - 1));
  }

  /** Restores a saved tokenizer; throws ModelError when the saved words do not fit its config. */
  static fromJSON(json: TokenizerJSON): Tokenizer {
    const { config, words } = json;
    if (words.length > config.numWords - 1) {
      throw new ModelError(`tokenizer: ${words.length} words saved, but numWords ${config.numWords} allows at most ${config.numWords - 1}`);
    }
    if (config.oovToken !== null && words[0] !== config.oovToken) {
      throw new ModelError(`tokenizer: the first saved word should be the OOV token ${JSON.stringify(config.oovToken)}, not ${JSON.stringify(words[0])}`);
    }
    const seen = new Set<string>();
    for (const w of words) {
      if (typeof w !== 'string' || w === '') throw new ModelError(`tokenizer: saved word ${JSON.stringify(w)} is not a non-empty string`);
      if (seen.has(w)) throw new ModelError(`tokenizer: word ${JSON.stringify(w)} is saved twice`);
      seen.add(w);
    }
    return new Tokenizer(config, [...words]);
  }

  toJSON(): TokenizerJSON {
    return { config: { ...this.#config }, words: [...this.#words] };
  }

  get config(): Readonly<TokenizerSpec> {
    return this.#config;
  }

  /** Indices in use, padding included: every token id is below this. */
  get vocabularySize(): number {
    return this.#words.length + 1;
  }

  /**
   * Keras `texts_to_sequences` for one text: known words become their index; other words become
   * the OOV index when there is an OOV token, and are dropped when there is none.
   */
  textToSequence(text: string): number[] {
    const oov = this.#config.oovToken === null ? undefined : 1;
    const sequence: number[] = [];
    for (const w of splitWords(text, this.#config.lowercase, this.#filters)) {
      const index = this.#index.get(w) ?? oov;
      if (index !== undefined) sequence.push(index);
    }
    return sequence;
  }
}

/**
 * Keras `pad_sequences` for one sequence (value 0): writes exactly `maxLength` values at
 * out[offset...]. Too long: `truncating` 'pre' drops from the start, 'post' from the end. Too
 * short: `padding` 'pre' puts the zeros before, 'post' after.
 */
export function padSequence(
  sequence: readonly number[],
  maxLength: number,
  padding: 'pre' | 'post',
  truncating: 'pre' | 'post',
  out: Float32Array,
  offset: number,
): void {
  if (offset < 0 || offset + maxLength > out.length) {
    throw new RangeError(`padSequence: ${maxLength} values at offset ${offset} do not fit an array of ${out.length}`);
  }
  const length = Math.min(sequence.length, maxLength);
  const from = truncating === 'pre' ? sequence.length - length : 0;
  const at = padding === 'pre' ? offset + maxLength - length : offset;
  out.fill(0, offset, offset + maxLength);
  for (let i = 0; i < length; i++) out[at + i] = sequence[from + i]!;
}
