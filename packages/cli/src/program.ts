import { Command, InvalidArgumentError, Option } from 'commander';
import { BACKEND_NAMES, ConfigError, GEMM_CHOICES } from '@adamant/core';
import { DEFAULT_CONNECTION_LIMITS } from '@adamant/coordinator';
import { DEFAULT_MAX_PARAMS, parseFingerprint } from '@adamant/worker';
import { coordinatorCommand } from './commands/coordinator.js';
import { evaluateCommand, predictCommand } from './commands/inference.js';
import { inspectCommand } from './commands/inspect.js';
import { trainCommand } from './commands/train.js';
import { workerCommand } from './commands/worker.js';
import { logLevels } from './logger.js';
import { WORKER_ENV } from './workerEnv.js';

const VERSION = '0.1.0';

function integer(min: number) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`expected an integer >= ${min}, got "${value}"`);
    return n;
  };
}

function number(what: string, ok: (n: number) => boolean) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !ok(n)) throw new InvalidArgumentError(`expected ${what}, got "${value}"`);
    return n;
  };
}

function wsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError(`"${value}" is not a URL; expected ws://HOST:PORT`);
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new InvalidArgumentError(`"${value}" is not a ws:// URL; expected ws://HOST:PORT`);
  return value;
}

function sha256Fingerprint(value: string): string {
  const fingerprint = parseFingerprint(value);
  if (!fingerprint) throw new InvalidArgumentError(`"${value}" is not a SHA-256 fingerprint; expected sha256:AB:CD:… (32 bytes) or 64 hex digits`);
  return fingerprint;
}

const backendOption = (what = 'TensorFlow.js backend, overriding the config') => new Option('--backend <name>', what).choices(BACKEND_NAMES);
const gemmOption = (what: string) =>
  new Option(
    '--gemm <engine>',
    `${what}: auto (OpenBLAS if it loads, else wasm), openblas (~3x faster; needs libopenblas) or wasm (tfjs matMul); models on tfjs autodiff (no embedding or recurrent layer) ignore it`,
  ).choices(GEMM_CHOICES);
const logLevelOption = (fallback: string) => new Option('--log-level <level>', 'log detail on stderr').choices(logLevels).default(fallback);
const logJsonOption = () => new Option('--log-json', 'log JSON lines (for log collectors) instead of text');

function trainingOptions(command: Command): Command {
  return command
    .option('--epochs <n>', 'override the config\'s epochs (0 saves the initial weights)', integer(0))
    .option('--init <dir>', 'start from the weights of a saved model directory (a text job keeps its vocabulary)')
    .option('--out <dir>', 'the run directory: the trained model, and its checkpoints/ (default: runs/<name>-<time>)')
    .option('--resume <dir>', 'continue a run from its newest valid checkpoint (a run directory or one checkpoint file); the config may then be left out')
    .option('--checkpoint-every <steps>', 'also write a checkpoint every N steps (always: after each epoch and when stopped)', integer(0), 0)
    .option('--keep-checkpoints <n>', 'how many checkpoints to keep, newest first', integer(1), 3)
    .option('--no-duplicate-stragglers', 'do not give a chunk that is out far longer than usual to an idle worker as well')
    .option('--chunk-timeout <seconds>', 'drop a worker that holds a chunk this long; others compute it (default: 10x the median chunk time, at least 30 s; 10 min before the first)', number('a number of seconds > 0', (n) => n > 0))
    .option('--verify <fraction>', 'have this fraction of chunks (picked by the seed) computed by two workers on one backend and applied only when equal to the bit; a worker two others contradict is quarantined', number('a fraction from 0 to 1', (n) => n >= 0 && n <= 1), 0)
    .option('--max-chunk-grad-norm <x>', 'a chunk whose gradient L2 norm exceeds X per sample, or is not finite, costs its worker the connection; a second worker\'s such result stops the job (E_NUMERIC)', number('a number > 0', (n) => n > 0 && Number.isFinite(n)))
    .option('--status-every <seconds>', 'while training waits for workers or chunks, log what it waits for this often', integer(1), 15)
    .option('--dashboard', 'serve a live dashboard on the coordinator\'s port and print its URL (readable without the token, like /metrics)')
    .option('--no-metrics', 'do not serve GET /metrics (Prometheus) on the coordinator\'s port; /healthz and /readyz stay')
    .option('--json', 'print one JSON object with the results as the last line of stdout')
    .option('-q, --quiet', 'print only errors and the final result (no progress, no epoch lines, no warnings)')
    .option('--progress-every <seconds>', 'when stderr is not a terminal, print a progress line this often (on a terminal a bar is redrawn in place)', number('a number of seconds > 0', (n) => n > 0), 10);
}

/** `--quiet` means errors only, unless the log is silenced altogether. */
function applyQuiet<T extends { quiet?: boolean; logLevel: string }>(options: T): T {
  return options.quiet && options.logLevel !== 'silent' ? { ...options, logLevel: 'error' } : options;
}

/**
 * The worker's token from flags and environment: a flag beats a variable (`--token-file` over
 * $ADAMANT_TOKEN), and two variables at once are refused rather than one picked silently.
 */
function resolveTokenSources<T extends { token?: string; tokenFile?: string }>(options: T, command: Command): T {
  if (options.token === undefined || options.tokenFile === undefined) return options;
  const fromEnv = (name: string) => command.getOptionValueSource(name) === 'env';
  if (fromEnv('token') && fromEnv('tokenFile')) throw new ConfigError(`${WORKER_ENV.token} and ${WORKER_ENV.tokenFile} are both set; unset one`);
  if (fromEnv('token')) return { ...options, token: undefined };
  if (fromEnv('tokenFile')) return { ...options, tokenFile: undefined };
  return options;
}

/** Whether the command line asks for JSON lines, before commander has parsed it (for its own errors). */
function wantsJsonLog(): boolean {
  return process.argv.includes('--log-json') || (process.argv[2] === 'worker' && process.env[WORKER_ENV.logJson] !== undefined);
}

/** A usage error as commander prints it, or as a JSON line when the command line asks for `--log-json`. */
function usageError(text: string): string {
  if (!wantsJsonLog()) return `adamant: ${text}`;
  const command = process.argv[2];
  const role = command === 'worker' ? 'worker' : command === 'train' || command === 'coordinator' ? 'coordinator' : 'cli';
  return `${JSON.stringify({ level: 50, time: Date.now(), pid: process.pid, role, usage: true, fatal: true, msg: text.trim() })}\n`;
}

/** The `adamant` command line. The CLI only parses and wires; the work happens in the packages. */
export function createProgram(): Command {
  const program = new Command('adamant')
    .description('Distributed data-parallel training for TensorFlow.js models, bitwise reproducible whatever the number of workers.')
    .version(VERSION, '-v, --version')
    .showHelpAfterError(wantsJsonLog() ? false : '(run with --help for usage)')
    .configureOutput({ outputError: (text, write) => write(usageError(text.replace(/^error: /, ''))) })
    .exitOverride()
    // A variable set to nothing (`-e ADAMANT_TOKEN=`) is unset, as containers clear one; commander would take "".
    .hook('preSubcommand', (_program, command) => {
      if (command.name() !== 'worker') return;
      for (const name of Object.values(WORKER_ENV)) if (process.env[name] === '') delete process.env[name];
    });

  trainingOptions(
    program
      .command('train')
      .description('train locally: a coordinator in this process and N worker processes on loopback')
      .argument('[config]', 'job config (JSON); optional with --resume')
      .option('-w, --workers <n>', 'worker processes to start', integer(1), 2)
      .option('--heartbeat <seconds>', 'presume a worker silent this long gone and hand its chunks to others', integer(1), 60),
  )
    .addOption(backendOption())
    .addOption(gemmOption('the GEMM engine of the workers\' matrix products (default: auto)'))
    .addOption(logLevelOption('warn'))
    .addOption(logJsonOption())
    .addHelpText('after', '\nExamples:\n  adamant train examples/housing/job.json --workers 2\n  adamant train --resume runs/housing-20261126-0700 --workers 3')
    .action((config: string | undefined, options) => trainCommand(config, applyQuiet(options)));

  trainingOptions(
    program
      .command('coordinator')
      .description('run the parameter server of a multi-machine job; workers join with `adamant worker`')
      .argument('[config]', 'job config (JSON); optional with --resume')
      .requiredOption('-p, --port <port>', 'port to listen on (0 picks a free one)', integer(0))
      .option('--host <host>', 'address to listen on', '0.0.0.0')
      .option('--min-workers <n>', 'workers to wait for before the first step', integer(1), 1)
      .option('--worker-timeout <seconds>', 'fail when training has waited this long for workers (0: wait for ever)', integer(0), 600)
      .option('--heartbeat <seconds>', 'presume a worker silent this long gone and hand its chunks to others', integer(1), 60)
      .option('--token <token>', 'secret workers must prove they hold (default: $ADAMANT_TOKEN; on a loopback --host or with --insecure, else a random one, printed)')
      .option('--token-file <file>', 'read the token from this file (its first line; keep it chmod 600)')
      .option('--insecure', 'listen on a non-loopback --host with a random token printed on stderr instead of a given one')
      .option('--max-connections <n>', 'open connections at most; beyond them new ones are closed at once', integer(1), DEFAULT_CONNECTION_LIMITS.maxConnections)
      .option('--tls-cert <file>', 'serve wss:// with this certificate (PEM, with --tls-key); workers get its fingerprint in the banner')
      .option('--tls-key <file>', 'the private key (PEM) of --tls-cert'),
  )
    .addOption(backendOption())
    .addOption(gemmOption('the GEMM engine the job asks of workers started without their own --gemm (default: auto)'))
    .addOption(logLevelOption('info'))
    .addOption(logJsonOption())
    .addHelpText('after', '\nExample:\n  adamant coordinator examples/housing/job.json --port 7070 --min-workers 2')
    .action((config: string | undefined, options) => coordinatorCommand(config, applyQuiet(options)));

  program
    .command('worker')
    .description('compute gradients for a coordinator until its job ends; every option also reads the environment variable shown (a flag wins)')
    .addOption(new Option('-c, --connect <url>', 'the coordinator, ws://HOST:PORT or wss://HOST:PORT').argParser(wsUrl).env(WORKER_ENV.connect).makeOptionMandatory())
    .addOption(new Option('--token <token>', 'the coordinator\'s secret').env(WORKER_ENV.token))
    .addOption(new Option('--token-file <file>', 'read the token from this file (its first line; keep it chmod 600)').env(WORKER_ENV.tokenFile))
    .addOption(new Option('--max-params <n>', 'refuse a job whose model has more parameters than this').argParser(integer(1)).default(DEFAULT_MAX_PARAMS).env(WORKER_ENV.maxParams))
    .addOption(
      new Option('--handshake-timeout <seconds>', 'give up on a connection whose coordinator has not welcomed this worker after this long').argParser(integer(1)).default(15).env(WORKER_ENV.handshakeTimeout),
    )
    .addOption(backendOption().env(WORKER_ENV.backend))
    .addOption(gemmOption('the GEMM engine of this worker\'s matrix products, overriding the job\'s (default: the job\'s, auto)').env(WORKER_ENV.gemm))
    .addOption(new Option('--connect-timeout <seconds>', 'keep retrying a refused connection this long').argParser(integer(0)).default(30).env(WORKER_ENV.connectTimeout))
    .addOption(
      new Option('--reconnect-timeout <seconds>', 'after losing the coordinator mid-job, keep trying to rejoin the job this long (0: fail at once)')
        .argParser(integer(0))
        .default(300)
        .env(WORKER_ENV.reconnectTimeout),
    )
    .addOption(new Option('--tls-ca <file>', 'wss://: also trust this CA certificate (PEM) besides the system CAs').env(WORKER_ENV.tlsCa))
    .addOption(
      new Option('--tls-fingerprint <sha256>', 'wss://: trust only the certificate with this SHA-256 fingerprint (sha256:AB:CD:… as the coordinator prints it), not CAs')
        .argParser(sha256Fingerprint)
        .conflicts('tlsCa')
        .env(WORKER_ENV.tlsFingerprint),
    )
    .addOption(logLevelOption('info').env(WORKER_ENV.logLevel))
    .addOption(logJsonOption().env(WORKER_ENV.logJson))
    .addHelpText(
      'after',
      '\nExamples:\n  ADAMANT_TOKEN=... adamant worker --connect ws://10.0.0.5:7070\n  ADAMANT_TOKEN=... adamant worker --connect wss://10.0.0.5:7070 --tls-fingerprint sha256:AB:CD:…\n  docker run -e ADAMANT_CONNECT=ws://10.0.0.5:7070 -e ADAMANT_TOKEN_FILE=/run/secrets/adamant IMAGE adamant worker',
    )
    .action((options, command: Command) => {
      if ((options.tlsCa || options.tlsFingerprint) && new URL(options.connect).protocol !== 'wss:') command.error('--tls-ca and --tls-fingerprint need a wss:// coordinator URL');
      return workerCommand(resolveTokenSources(options, command));
    });

  program
    .command('inspect')
    .description('what a saved model directory or a checkpoint holds: layers, parameters, data preparation, step and epoch, last metrics, config, files')
    .argument('<path>', 'a model directory, a run directory, its checkpoints/ folder, or a step-*.ckpt file')
    .option('--json', 'print one JSON object')
    .addHelpText('after', '\nExamples:\n  adamant inspect runs/housing-20261126-0700\n  adamant inspect runs/housing-20261126-0700/checkpoints --json')
    .action((target: string, options) => inspectCommand(target, options));

  const fusedOption = () => new Option('--no-fused', 'run tfjs model.predict even where the model has the workers\' fused forward path (slower; for comparison)');

  program
    .command('evaluate')
    .description('loss and metrics of a saved model on a data file (read like its training data)')
    .argument('<model-dir>', 'a model directory written by adamant train')
    .argument('<data>', 'a CSV or JSONL file with the training data\'s columns or fields')
    .option('--json', 'print one JSON object (with per-class counts for a classifier, the inference path and its time)')
    .addOption(backendOption('TensorFlow.js backend (default: auto, the fastest available)'))
    .addOption(fusedOption())
    .addOption(gemmOption('the GEMM engine of the fused forward pass (default: auto)'))
    .addHelpText('after', '\nExample:\n  adamant evaluate runs/spam-20261125-1200 examples/spam/data/spam.jsonl')
    .action((modelDir: string, data: string, options) => evaluateCommand(modelDir, data, options));

  program
    .command('predict')
    .description('a saved model\'s predictions: for texts given as arguments ("-" reads one per line from stdin), or for the rows of a CSV (--csv)')
    .argument('<model-dir>', 'a model directory written by adamant train')
    .argument('[text...]', 'texts to classify (text models)')
    .option('--csv <file>', 'table models: predict each row of this CSV (a header names the columns; "-" reads stdin)')
    .option('--json', 'text: print one JSON array; table: print one JSON object per row')
    .addOption(backendOption('TensorFlow.js backend (default: auto, the fastest available)'))
    .addOption(fusedOption())
    .addOption(gemmOption('the GEMM engine of the fused forward pass (default: auto)'))
    .addHelpText(
      'after',
      '\nExamples:\n  adamant predict runs/spam-20261125-1200 "WIN a FREE cruise, click now"\n  adamant predict runs/housing-20261125-1200 --csv houses.csv > predictions.csv',
    )
    .action((modelDir: string, texts: string[], options, command: Command) => {
      if (options.csv !== undefined && texts.length > 0) command.error('give texts or --csv FILE, not both');
      if (options.csv === undefined && texts.length === 0) command.error('nothing to predict: give texts (text models, "-" for stdin) or --csv FILE (table models)');
      return predictCommand(modelDir, texts, options);
    });

  return program;
}
