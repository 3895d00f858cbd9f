import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { EpochReport } from './reports.js';
import { RunFiles, replaceDirectory } from './RunFiles.js';

const dir = mkdtempSync(path.join(tmpdir(), 'adamant-runfiles-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const write = (text: string) => async (target: string) => {
  mkdirSync(target, { recursive: true });
  writeFileSync(path.join(target, 'weights.bin'), text);
};

describe('RunFiles', () => {
  it('replaces a directory whole, leaving nothing beside it; a failed write keeps the old one', async () => {
    const best = path.join(dir, 'replace', 'best');
    mkdirSync(path.dirname(best));
    await replaceDirectory(best, write('first'));
    await replaceDirectory(best, write('second'));
    expect(readFileSync(path.join(best, 'weights.bin'), 'utf8')).toBe('second');
    await expect(replaceDirectory(best, () => Promise.reject(new Error('disk full')))).rejects.toThrow('disk full');
    expect(readFileSync(path.join(best, 'weights.bin'), 'utf8')).toBe('second');
    await replaceDirectory(best, write('third'));
    expect(readdirSync(path.dirname(best))).toEqual(['best']);
  });

  it('writes the history after every epoch, and best/ only when the epoch improved', async () => {
    const out = path.join(dir, 'run');
    const saved: unknown[] = [];
    const files = new RunFiles(out, async (target, summary) => {
      saved.push(summary);
      await write(JSON.stringify(summary))(target);
    });
    const report = { epoch: 1, epochs: 2, loss: 1, metrics: {}, seconds: 1, learningRate: 0.1, samplesPerSecond: 10 } satisfies EpochReport;
    const best = { monitor: 'loss', value: 1, epoch: 1 };
    await files.epochEnded({ history: [report], best, improved: true });
    await files.epochEnded({ history: [report, { ...report, epoch: 2, loss: 2 }], best, improved: false });
    expect(saved).toEqual([{ best }]);
    expect(readdirSync(out).sort()).toEqual(['best', 'history.csv', 'history.json']);
    expect(readFileSync(path.join(out, 'history.csv'), 'utf8').trim().split('\n')).toHaveLength(3);
  });
});
