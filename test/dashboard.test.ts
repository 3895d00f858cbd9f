import { mkdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { type Browser, chromium } from 'playwright-core';
import { afterEach, describe, expect, it } from 'vitest';
import { findChromium } from './support/browser.js';
import { backgroundClis, childPids, housingJob, repoRoot, runCli, tempDir, waitFor } from './support/cli.js';

/**
 * Issue 12: `adamant train --dashboard` serves a live page on the coordinator's port. In headless
 * Chromium the loss chart fills and the workers table lists every worker; a worker killed outright
 * is shown gone; the run still finishes with the weights of an undisturbed run.
 */
const clis = backgroundClis();
let browser: Browser | undefined;
let cleanup: (() => void) | undefined;
afterEach(async () => {
  await browser?.close();
  browser = undefined;
  clis.killAll();
  cleanup?.();
});

const WORKERS = 3;
const EPOCHS = 10;
/** Each chunk waits this long on the workers (ADAMANT_SLOW_CHUNK_MS delays, never changes, results): the run lasts long enough to watch. */
const SLOW_CHUNK_MS = 40;

describe('the live dashboard', () => {
  it('shows the loss and every worker, marks a killed worker gone, and the run still ends with the weights of an undisturbed run', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    const job = housingJob(temp.dir, { epochs: EPOCHS });
    const out = path.join(temp.dir, 'watched');
    const cli = clis.start(['train', job, '--workers', String(WORKERS), '--dashboard', '--out', out, '--json'], { ADAMANT_SLOW_CHUNK_MS: String(SLOW_CHUNK_MS) });
    await waitFor(() => /dashboard: http:\/\/\S+/.test(cli.output()), 'the dashboard URL', 60_000);
    const url = /dashboard: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(cli.output())![1]!;

    browser = await chromium.launch({ executablePath: findChromium(), args: ['--no-sandbox'] });
    const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(error.message));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(message.text());
    });
    await page.goto(url);
    const readyRows = () => page.locator('#workers tr[data-state="ready"]').count();
    const points = async (chart: string) => Number(await page.locator(chart).getAttribute('data-points'));
    await expect.poll(readyRows, { timeout: 90_000 }).toBe(WORKERS);
    await expect.poll(() => points('#chart-steps'), { timeout: 60_000 }).toBeGreaterThanOrEqual(10);
    expect(await readyRows()).toBe(WORKERS);
    expect(await page.locator('#config').textContent()).toContain('"batchSize": 32');

    // One worker process killed outright: its row turns gone, counted as a failure.
    const pids = childPids(cli.child.pid!);
    expect(pids).toHaveLength(WORKERS);
    const victim = pids[1]!;
    process.kill(victim, 'SIGKILL');
    // The same job, undisturbed and without the dashboard: it trains while the watched run's workers wait on their slow chunks.
    const reference = path.join(temp.dir, 'reference');
    const undisturbed = runCli(['train', job, '--workers', '2', '--out', reference], { timeoutMs: 120_000 });
    const row = page.locator('#workers tr').filter({ has: page.locator('td:nth-child(2)', { hasText: new RegExp(`:${victim}$`) }) });
    await expect.poll(() => row.getAttribute('data-state'), { timeout: 30_000 }).toBe('gone');
    expect(await row.locator('td').nth(8).textContent()).toBe('1');
    // Only this worker left, so the chunks it held are all the run's reassigned chunks.
    expect(await row.locator('td').nth(9).textContent()).toBe(await page.locator('#t-reassigned').textContent());
    expect(await readyRows()).toBe(WORKERS - 1);
    // The epoch chart fills too, and the step-time split is drawn.
    await expect.poll(() => points('#chart-epochs'), { timeout: 90_000 }).toBeGreaterThanOrEqual(3);
    expect(await page.locator('#split-rows tr').count()).toBe(4);
    const artifacts = path.join(repoRoot, 'test-artifacts');
    mkdirSync(artifacts, { recursive: true });
    await page.screenshot({ path: path.join(artifacts, 'dashboard.png'), fullPage: true });
    expect(problems).toEqual([]);

    const { code } = await cli.exit;
    expect(code, cli.output()).toBe(0);
    const summary = JSON.parse(cli.output().trim().split('\n').findLast((line) => line.startsWith('{"loss"'))!) as { steps: number };
    expect(summary.steps).toBe(EPOCHS * 13);

    // The undisturbed run: the same bits.
    const plain = await undisturbed;
    expect(plain.code, plain.stderr).toBe(0);
    expect(readFileSync(path.join(out, 'weights.bin')).equals(readFileSync(path.join(reference, 'weights.bin')))).toBe(true);
  });
});
