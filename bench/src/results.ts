import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/** One side of a row: what was measured, its value and unit. */
export interface Measured {
  label: string;
  value: number;
  /** 'tok/s', 'GFLOP/s', 'samples/s' (higher is faster) or 'ns/param', 'us' (lower is faster). */
  unit: string;
}

/**
 * One row of the table: `a` measured side by side with its baseline `b` in the same run. `ratio`
 * is a's speed over b's (the median of per-round ratios; above 1, a is faster), null when skipped.
 */
export interface BenchRow {
  section: string;
  name: string;
  /** The sizes both sides ran at. */
  sizes: string;
  a?: Measured;
  b?: Measured;
  ratio: number | null;
  /** The least ratio the issue asks for, and whether this run met it. */
  target?: { min: number; met: boolean };
  note?: string;
  /** Why the row was not measured. */
  skipped?: string;
}

/** The machine a run measured: the numbers mean little without it. */
export interface MachineInfo {
  cpu: string;
  cores: number;
  memoryGiB: number;
  node: string;
  os: string;
  /** The commit measured (a dirty tree is marked so). */
  commit: string;
  /** 1-minute load averages when the run started and ended (others' work skews absolute figures, less the ratios). */
  loadStart: number;
  loadEnd?: number;
}

function commitOf(): string {
  const cwd = fileURLToPath(new URL('../..', import.meta.url));
  const git = (args: string[]) => spawnSync('git', args, { encoding: 'utf8', cwd });
  const head = git(['rev-parse', '--short', 'HEAD']);
  if (head.status !== 0) return 'unknown';
  const dirty = git(['status', '--porcelain', '--untracked-files=no']).stdout.trim() !== '';
  return `${head.stdout.trim()}${dirty ? ' (with uncommitted changes)' : ''}`;
}

export function machineInfo(): MachineInfo {
  const cpus = os.cpus();
  return {
    cpu: cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    os: `${os.type()} ${os.release()}`,
    commit: commitOf(),
    loadStart: Number(os.loadavg()[0]!.toFixed(2)),
  };
}

/** A row with a target: `met` follows from the ratio. */
export function withTarget(row: Omit<BenchRow, 'target'>, min: number): BenchRow {
  return { ...row, target: { min, met: row.ratio !== null && row.ratio >= min } };
}

/** A row that could not be measured here, and why. */
export function skippedRow(section: string, name: string, sizes: string, why: string): BenchRow {
  return { section, name, sizes, ratio: null, skipped: why };
}

function formatValue({ value, unit }: Measured): string {
  const digits = value >= 1000 ? 0 : value >= 100 ? 1 : value >= 10 ? 2 : 3;
  return `${value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits >= 1 ? 1 : 0 })} ${unit}`;
}

const cell = (text: string): string => text.replaceAll('|', '\\|');
const side = (measured: Measured | undefined): string => (measured ? `${measured.label}: **${formatValue(measured)}**` : '');

function targetCell(row: BenchRow): string {
  if (!row.target) return '';
  return `≥ ${row.target.min}x: ${row.target.met ? 'met' : '**missed**'}`;
}

/** The table in markdown: one line per row, ratios as a's speed over b's. */
export function markdownTable(rows: readonly BenchRow[]): string {
  const lines = ['| section | row | A | B | A/B (speed) | target | sizes | note |', '|---|---|---|---|---|---|---|---|'];
  for (const row of rows) {
    const ratio = row.ratio === null ? 'skipped' : `**${row.ratio.toFixed(2)}x**`;
    const note = row.skipped ?? row.note ?? '';
    lines.push(`| ${[row.section, row.name, side(row.a), side(row.b), ratio, targetCell(row), row.sizes, note].map(cell).join(' | ')} |`);
  }
  return `${lines.join('\n')}\n`;
}

/** Writes the run as JSON: date, seconds, machine, the sections run with the seconds each took, and the rows. */
export function writeResults(file: string, machine: MachineInfo, started: Date, sections: Record<string, number>, rows: readonly BenchRow[]): void {
  const seconds = Number(((Date.now() - started.getTime()) / 1000).toFixed(1));
  const run = { date: started.toISOString(), seconds, machine: { ...machine, loadEnd: Number(os.loadavg()[0]!.toFixed(2)) }, sections, rows };
  writeFileSync(file, `${JSON.stringify(run, null, 2)}\n`);
}
