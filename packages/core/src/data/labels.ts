import { ConfigError } from '../errors.js';

/**
 * Class labels as a classifier reads them. A label is a string or a number in the data (a CSV
 * cell is always a string); its key is the one spelling every source agrees on, so that `2`, "2"
 * and "2.0" are one class, and booleans are "true"/"false".
 */

/** A plain decimal number as written in a file: "2", "-1", "0.5", "1e3" (not "0x10", not "Infinity"). */
const NUMBER_LITERAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;

/** The key of a label value, or undefined when the value is no label (empty, null, an object, not finite). */
export function labelKey(value: unknown): string | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : undefined;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value !== 'string') return undefined;
  const text = value.trim();
  if (text === '') return undefined;
  return NUMBER_LITERAL.test(text) ? String(Number(text)) : text;
}

const isNumberKey = (key: string): boolean => NUMBER_LITERAL.test(key);

/** Distinct keys sorted numerically when every one is a number, else by UTF-16 code units (locale-free, so every machine agrees). */
export function sortLabels(keys: Iterable<string>): string[] {
  const distinct = [...new Set(keys)];
  if (distinct.every(isNumberKey)) return distinct.sort((a, b) => Number(a) - Number(b));
  return distinct.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
}

/** A label for a one-line message: cut short. */
export const shortLabel = (key: string): string => (key.length > 40 ? `${key.slice(0, 37)}...` : key);

/** Labels listed in a message: the first 10, then a count. */
export function listLabels(names: readonly string[]): string {
  const shown = names.slice(0, 10).map(shortLabel).join(', ');
  return names.length > 10 ? `${shown}, … (${names.length} labels)` : shown;
}

/** Where a label set comes from: it decides how errors word it. */
export type LabelOrigin = 'listed' | 'binary' | 'training' | 'saved';

/** A classifier's classes: class k is names[k], and y holds k. */
export class LabelSet {
  private readonly index = new Map<string, number>();

  private constructor(
    readonly names: readonly string[],
    readonly origin: LabelOrigin,
  ) {
    for (const [k, name] of names.entries()) this.index.set(name, k);
  }

  /** data.labels, or the names saved with a model (`field` names where they are): their keys in the given order. */
  static of(values: readonly (string | number)[], origin: 'listed' | 'saved', field = 'data.labels'): LabelSet {
    const names = values.map((value, k) => {
      const key = labelKey(value);
      if (key === undefined) throw new ConfigError(`${field}[${k}]: ${JSON.stringify(value)} is not a label`);
      return key;
    });
    // "2" and 2.0 are distinct to the schema but one class here.
    const twice = names.find((name, k) => names.indexOf(name) !== k);
    if (twice !== undefined) {
      const spellings = values.filter((v) => labelKey(v) === twice).map((v) => JSON.stringify(v));
      throw new ConfigError(`${field}: ${spellings.join(' and ')} are the same label`);
    }
    return new LabelSet(names, origin);
  }

  /** The implicit set of binary cross-entropy: 0 and 1, also written false and true. */
  static binary(): LabelSet {
    const set = new LabelSet(['0', '1'], 'binary');
    set.index.set('false', 0);
    set.index.set('true', 1);
    return set;
  }

  /** The distinct labels of the training split, sorted (sortLabels). */
  static fromTraining(keys: Iterable<string>): LabelSet {
    return new LabelSet(sortLabels(keys), 'training');
  }

  get size(): number {
    return this.names.length;
  }

  /** The class index of a label key, or undefined when the set lacks it. */
  classOf(key: string): number | undefined {
    return this.index.get(key);
  }

  /** "[easy_ham, spam]" */
  toString(): string {
    return `[${listLabels(this.names)}]`;
  }
}
