import { readFileSync, writeFileSync } from 'node:fs';
import { mulberry32 } from '@adamant/core';

/**
 * Small generated data sets with a learnable signal, for the model tests: a few hundred short
 * texts over a vocabulary of about 45 words, and a numeric table with a class and a regression
 * target. Seeded, so every run of a test reads the same rows.
 */

const topicWords = {
  sports: ['goal', 'match', 'team', 'coach', 'score', 'league'],
  tech: ['code', 'server', 'chip', 'laptop', 'cloud', 'robot'],
  food: ['pasta', 'bread', 'soup', 'cheese', 'spice', 'bake'],
} as const;
const moodWords = { 1: ['great', 'love', 'happy', 'superb', 'fun'], 0: ['awful', 'hate', 'sad', 'boring', 'bad'] } as const;
const fillerWords = ['the', 'a', 'to', 'and', 'of', 'we', 'it', 'was', 'this', 'that', 'on', 'in', 'for', 'with', 'at'];

export const TOPICS = Object.keys(topicWords) as (keyof typeof topicWords)[];

/**
 * `rows` JSON lines `{"text", "topic", "mood"}`: a text of 4 to 11 words, `topic` a class name
 * (sports, tech, food) whose words it tends to use, `mood` 0 or 1 with its own words. Returns the
 * file's path.
 */
export function writeTopicTexts(file: string, rows: number, seed = 7): string {
  const random = mulberry32(seed);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(random() * list.length)]!;
  const lines: string[] = [];
  for (let i = 0; i < rows; i++) {
    const topic = pick(TOPICS);
    const mood = random() < 0.45 ? 1 : 0;
    const length = 4 + Math.floor(random() * 8);
    const words = Array.from({ length }, () => {
      const r = random();
      return r < 0.3 ? pick(topicWords[topic]) : r < 0.5 ? pick(moodWords[mood]) : pick(fillerWords);
    });
    lines.push(JSON.stringify({ text: words.join(' '), topic, mood }));
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** The feature columns of writeNumericTable. */
export const TABLE_FEATURES = ['x1', 'x2', 'x3', 'x4'];

/**
 * A CSV of `rows` rows: features x1..x4 (uniform in [-2, 2) times a per-column scale), `band` a
 * class name (low, mid, high) from a linear score of the features, and `value` a noisy regression
 * target with a few outliers (so meanAbsoluteError and huber see errors on both sides of huber's delta).
 * Returns the file's path.
 */
export function writeNumericTable(file: string, rows: number, seed = 11): string {
  const random = mulberry32(seed);
  const scales = [1, 3, 0.5, 2];
  const lines = [`${TABLE_FEATURES.join(',')},band,value`];
  for (let i = 0; i < rows; i++) {
    const x = scales.map((s) => (random() * 4 - 2) * s);
    const [x1, x2, x3, x4] = x as [number, number, number, number];
    const score = x1 - 0.4 * x2 + x3;
    const band = score < -0.8 ? 'low' : score < 0.8 ? 'mid' : 'high';
    const outlier = random() < 0.05 ? 8 * (random() - 0.5) : 0;
    const value = 2 * x1 - 0.5 * x2 + x3 * x4 + 0.3 * (random() - 0.5) + outlier;
    lines.push(`${x.map((v) => v.toFixed(4)).join(',')},${band},${value.toFixed(4)}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
  return file;
}

/** Each row's value of `field`, in file order: from the JSON lines of writeTopicTexts, or a column of writeNumericTable's CSV. */
export function columnOf(file: string, field: string): string[] {
  const lines = readFileSync(file, 'utf8').trim().split('\n');
  if (file.endsWith('.jsonl')) return lines.map((line) => String((JSON.parse(line) as Record<string, unknown>)[field]));
  const column = lines[0]!.split(',').indexOf(field);
  return lines.slice(1).map((line) => line.split(',')[column]!);
}
