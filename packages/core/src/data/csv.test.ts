import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DataError } from '../errors.js';
import { MAX_LINE_BYTES, readText } from './csv.js';
import { loadCsv } from './table.js';

const dir = mkdtempSync(path.join(tmpdir(), 'adamant-csv-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('reading data files', () => {
  it('refuses a device such as /dev/zero instead of reading it for ever', () => {
    expect(() => readText('/dev/zero')).toThrow(new DataError('/dev/zero: not a regular file (a device); data must be a CSV or JSONL file'));
  });

  it('refuses a FIFO instead of hanging on it', () => {
    const fifo = path.join(dir, 'pipe.csv');
    execFileSync('mkfifo', [fifo]);
    expect(() => readText(fifo)).toThrow(/pipe\.csv: not a regular file \(a FIFO\)/);
  });

  it('refuses a directory', () => {
    expect(() => readText(dir)).toThrow(/not a regular file \(a directory\)/);
  });

  it('refuses a line beyond the limit, naming its number', () => {
    const file = path.join(dir, 'long.csv');
    writeFileSync(file, `a,b\n1,2\n${'x'.repeat(MAX_LINE_BYTES + 1)}\n`);
    expect(() => readText(file)).toThrow(new RegExp(`long\\.csv:3: the line is over ${MAX_LINE_BYTES} characters`));
  });

  it('keeps a missing-column error to one short line when the header is huge', () => {
    const file = path.join(dir, 'wide.csv');
    const header = Array.from({ length: 50_000 }, (_, i) => `column_${i}_${'w'.repeat(60)}`);
    writeFileSync(file, `${header.join(',')}\n${header.map(() => '1').join(',')}\n`);
    let message = '';
    try {
      loadCsv({ path: file, features: ['missing'], target: 'y' });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/wide\.csv: no column "missing" \(named in data\.features\); the header has .*… \(50000 columns\)$/);
    expect(message.length).toBeLessThan(1200);
    expect(message).not.toContain('\n');
  });
});
