import path from 'node:path';
import parsePrometheus, { type PrometheusFamily } from 'parse-prometheus-text-format';
import { afterEach, describe, expect, it } from 'vitest';
import { backgroundClis, housingJob, tempDir, waitFor } from './support/cli.js';

/**
 * Issue 12: `GET /metrics` on the coordinator's port, scraped all through a real run (a
 * coordinator and two worker processes) and parsed as Prometheus text: its counters agree with
 * the run's `--json` summary. `/healthz` answers throughout, `/readyz` only while training can proceed.
 */
const clis = backgroundClis();
let cleanup: (() => void) | undefined;
afterEach(() => {
  clis.killAll();
  cleanup?.();
});

const TOKEN = 'metrics-test-token';
/** 253 training rows in batches of 64: 4 steps an epoch, the last of 61 samples. */
const TRAIN_ROWS = 253;
const BATCH = 64;
const EPOCHS = 2;
const STEPS_PER_EPOCH = Math.ceil(TRAIN_ROWS / BATCH);
/** Samples in the first `steps` steps. */
const samplesAfter = (steps: number) => Math.floor(steps / STEPS_PER_EPOCH) * TRAIN_ROWS + (steps % STEPS_PER_EPOCH) * BATCH;

interface Scrape {
  ready: number;
  families: Map<string, PrometheusFamily>;
}

/** One sample's value: the family's only sample, or the one with these labels. */
function value(scrape: Scrape, name: string, labels: Record<string, string> = {}): number {
  const family = scrape.families.get(name);
  if (!family) throw new Error(`no metric ${name} in the scrape`);
  const sample = family.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (!sample) throw new Error(`no sample of ${name} with ${JSON.stringify(labels)}`);
  return Number(sample.value ?? sample.count);
}

describe('GET /metrics, /healthz and /readyz', () => {
  it('count what the run did: the last scrape agrees with the --json summary, and every scrape with the plan', async () => {
    const temp = tempDir();
    cleanup = temp.cleanup;
    // Half the rows validate: each epoch ends with a validation round on the workers, so the counters sit still a while at the end.
    const job = housingJob(temp.dir, { epochs: EPOCHS, batchSize: BATCH, validationSplit: 0.5 });
    const env = { ADAMANT_TOKEN: TOKEN };
    const coordinator = clis.start(['coordinator', job, '--host', '127.0.0.1', '--port', '0', '--min-workers', '2', '--out', path.join(temp.dir, 'out'), '--json'], env);
    await waitFor(() => /ws:\/\/127\.0\.0\.1:\d+/.test(coordinator.output()), 'the coordinator to listen', 60_000);
    const port = Number(/ws:\/\/127\.0\.0\.1:(\d+)/.exec(coordinator.output())![1]);
    const origin = `http://127.0.0.1:${port}`;

    const health = await fetch(`${origin}/healthz`);
    expect([health.status, await health.json()]).toEqual([200, { status: 'ok' }]);
    const early = await fetch(`${origin}/readyz`);
    expect(early.status).toBe(503);
    expect(await early.json()).toMatchObject({ ready: false, reason: 'waiting for workers: 0 of 2 ready', phase: 'waiting' });

    const scrape = async (): Promise<Scrape> => {
      const [metrics, ready] = await Promise.all([fetch(`${origin}/metrics`), fetch(`${origin}/readyz`)]);
      expect(metrics.status).toBe(200);
      expect(metrics.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
      const families = new Map(parsePrometheus(await metrics.text()).map((f) => [f.name, f]));
      return { ready: ready.status, families };
    };
    const before = await scrape();
    expect(value(before, 'adamant_steps_total')).toBe(0);
    expect(value(before, 'adamant_workers', { state: 'ready' })).toBe(0);
    expect(before.families.get('adamant_step_duration_seconds')?.type).toBe('HISTOGRAM');
    expect(before.families.has('process_cpu_seconds_total')).toBe(true);

    // Each chunk waits 150 ms on its worker: a short job lasts long enough to be watched (results are unchanged).
    for (let i = 0; i < 2; i++) clis.start(['worker', '--connect', `ws://127.0.0.1:${port}`], { ...env, ADAMANT_SLOW_CHUNK_MS: '150' });
    let exited = false;
    const exit = coordinator.exit.then((status) => {
      exited = true;
      return status;
    });
    const scrapes: Scrape[] = [];
    while (!exited) {
      try {
        scrapes.push(await scrape());
      } catch {
        // The coordinator closed between two scrapes.
      }
      await new Promise((r) => setTimeout(r, 40));
    }
    const { code } = await exit;
    expect(code, coordinator.output()).toBe(0);
    const summaryLine = coordinator.output().split('\n').findLast((line) => line.startsWith('{"loss"'));
    const summary = JSON.parse(summaryLine ?? 'null') as { steps: number; samples: number };
    expect(summary).toMatchObject({ steps: EPOCHS * STEPS_PER_EPOCH, samples: EPOCHS * TRAIN_ROWS });

    // Every scrape is one moment of the plan: samples follow from steps, and nothing goes backwards.
    let steps = 0;
    for (const s of scrapes) {
      const now = value(s, 'adamant_steps_total');
      expect(now).toBeGreaterThanOrEqual(steps);
      steps = now;
      expect(value(s, 'adamant_samples_total')).toBe(samplesAfter(now));
      expect(value(s, 'adamant_step_duration_seconds')).toBe(now);
    }
    const during = scrapes.filter((s) => value(s, 'adamant_steps_total') > 0 && value(s, 'adamant_steps_total') < summary.steps);
    expect(during.length).toBeGreaterThan(0);
    expect(during.every((s) => s.ready === 200 && value(s, 'adamant_workers', { state: 'ready' }) === 2)).toBe(true);
    expect(value(during.at(-1)!, 'adamant_received_bytes_total')).toBeGreaterThan(0);
    expect(value(during.at(-1)!, 'adamant_sent_bytes_total')).toBeGreaterThan(0);

    // The last scrape, taken after the last step (during the final validation or later), is the summary.
    const last = scrapes.at(-1)!;
    expect(value(last, 'adamant_steps_total')).toBe(summary.steps);
    expect(value(last, 'adamant_samples_total')).toBe(summary.samples);
    expect(value(last, 'adamant_epoch')).toBe(EPOCHS);
    expect(value(last, 'adamant_chunks_reassigned_total')).toBe(0);
    // Training chunks (4 a step, 64 rows in 16-row chunks) and the validation chunks (4 an epoch) that came back by then.
    expect(value(last, 'adamant_chunk_results_total')).toBeGreaterThanOrEqual(summary.steps * 4);
  });
});
