import { createHash, type Hash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { repoRoot, runCli } from './cli.js';

/**
 * Undisturbed runs that several test files compare against (the housing job of a few epochs on
 * one worker), trained once and then shared: each is kept under the OS temp folder, named by a
 * hash of everything its bytes depend on (the arguments, the config and the data files it names,
 * the built packages, the lockfile, Node's version and the ADAMANT_* environment). Training is
 * deterministic, so a run of the same name has the same bytes, and any change to an input names
 * a new run. Callers only read a shared run; they never resume or write into it.
 */
const sharedRoot = path.join(tmpdir(), 'adamant-test-runs');
const BUILT_PACKAGES = ['core', 'coordinator', 'worker', 'cli'];
/** Runs older than this are left over from other builds: removed when a new run is stored. */
const STALE_MS = 24 * 3600 * 1000;

let buildDigest: string | undefined;

/** Adds every file under `dir` (names and bytes, in sorted order) to `hash`. */
function hashTree(hash: Hash, dir: string): void {
  for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) hashTree(hash, file);
    else if (entry.isFile()) hash.update(`${path.relative(repoRoot, file)}\0`).update(readFileSync(file));
  }
}

/** The digest of the code every CLI process runs: the packages' dist folders and the locked dependencies. */
function buildFingerprint(): string {
  if (!buildDigest) {
    const hash = createHash('sha256');
    for (const name of BUILT_PACKAGES) hashTree(hash, path.join(repoRoot, 'packages', name, 'dist'));
    hash.update(readFileSync(path.join(repoRoot, 'pnpm-lock.yaml')));
    buildDigest = hash.digest('hex');
  }
  return buildDigest;
}

/** The data files a job config names (training data and validationData), resolved as the CLI resolves them. */
function dataFiles(configPath: string): string[] {
  const config = JSON.parse(readFileSync(configPath, 'utf8')) as { data?: { path?: string }; validationData?: { path?: string } };
  return [config.data?.path, config.validationData?.path].filter((file): file is string => typeof file === 'string').map((file) => path.resolve(path.dirname(configPath), file));
}

function removeStaleRuns(): void {
  for (const name of existsSync(sharedRoot) ? readdirSync(sharedRoot) : []) {
    const dir = path.join(sharedRoot, name);
    if (Date.now() - statSync(dir).mtimeMs > STALE_MS) rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * The output directory of `adamant train CONFIG ARGS`: trained now the first time these inputs
 * are seen, and the same directory afterwards. Read its weights and summary; do not write into it.
 */
export async function sharedRun(configPath: string, args: string[]): Promise<string> {
  const hash = createHash('sha256');
  const environment = Object.entries(process.env).filter(([name]) => name.startsWith('ADAMANT_')).sort();
  hash.update(JSON.stringify({ args, node: process.version, environment, build: buildFingerprint() }));
  hash.update(readFileSync(configPath));
  for (const file of dataFiles(configPath)) hash.update(readFileSync(file));
  const dir = path.join(sharedRoot, hash.digest('hex').slice(0, 32));
  if (existsSync(path.join(dir, 'adamant.json'))) return dir;

  removeStaleRuns();
  mkdirSync(sharedRoot, { recursive: true });
  // Trained beside its final name and renamed whole, so that a run found there is always complete.
  const scratch = `${dir}.${process.pid}-${Date.now()}`;
  const run = await runCli(['train', configPath, ...args, '--out', scratch], { timeoutMs: 120_000 });
  if (run.code !== 0) throw new Error(`adamant train ${configPath} ${args.join(' ')} exited with ${run.code}:\n${run.stderr}`);
  try {
    renameSync(scratch, dir);
  } catch (error) {
    // Another test process stored the same run first: its bytes are these.
    rmSync(scratch, { recursive: true, force: true });
    if (!existsSync(path.join(dir, 'adamant.json'))) throw error;
  }
  return dir;
}
