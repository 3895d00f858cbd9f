import type { IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as tf from '@tensorflow/tfjs';
import { WebSocketServer, type WebSocket } from 'ws';
import {
  Adam,
  buildModel,
  chunkSizeOf,
  createCodec,
  embeddingTable,
  epochOrder,
  evaluateSums,
  firstNonFinite,
  floatBytes,
  gatherRows,
  meansOf,
  mixSeed,
  ConnectError,
  NumericError,
  ParamLayout,
  planEpoch,
  prepareData,
  PROTOCOL_VERSION,
  ProtocolError,
  resolveInputShape,
  sampleShape,
  saveModel,
  ShapeError,
  silentLog,
  toAdamantError,
  useBackend,
  type AdamantError,
  type BatchPlan,
  type ChunkResult,
  type CoordinatorMessage,
  type Dataset,
  type JobConfig,
  type LayerSpec,
  type Log,
  type PreparedData,
  type ResolvedBackend,
  type TokenizerJSON,
  type WorkerJob,
} from '@adamant/core';
import { assignChunks } from './assignChunks.js';
import { decodeChunkPart, describeNonFinite, tableRowsFor, weightNameAt } from './payloads.js';
import { GradientReducer } from './GradientReducer.js';

export interface CoordinatorOptions {
  config: JobConfig;
  /** Names the config in errors (usually its path). */
  source: string;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  /** When set, workers must present it in their hello. */
  token?: string;
  /** Workers to wait for before the first step (later ones join at the next step). */
  minWorkers?: number;
  /**
   * Give up (E_CONNECT) when training has waited this long for workers: fewer than minWorkers
   * before the first step, or none at all later. Unset: wait for ever.
   */
  workerTimeoutMs?: number;
  /**
   * A worker silent this long (no frame, no pong) is presumed gone, as after a network partition
   * that sends no FIN or RST, and its chunks go to the others. It must exceed the longest chunk a
   * worker computes, since a computing worker answers pings only between chunks. Default 60 s.
   */
  heartbeatMs?: number;
  /** A text job continuing from a saved model (--init) keeps that model's vocabulary. */
  tokenizer?: TokenizerJSON;
  log?: Log;
  onWorker?: (event: WorkerEvent) => void;
  onStep?: (report: StepReport) => void;
  onEpoch?: (report: EpochReport) => void;
  /** Validation of an epoch starts (it runs on the coordinator, between epochs). */
  onValidate?: (event: { epoch: number; samples: number }) => void;
}

export interface WorkerEvent {
  kind: 'joined' | 'left';
  workerId: number;
  name: string;
  backend?: string;
  reason?: string;
  workers: number;
}

export interface StepReport {
  epoch: number;
  batch: number;
  batches: number;
  step: number;
  samples: number;
  /** Mean loss of this batch, before the update. */
  loss: number;
}

export interface EpochReport {
  epoch: number;
  epochs: number;
  /** Mean training loss over the epoch's samples (computed before each step's update, as Keras reports it). */
  loss: number;
  metrics: Record<string, number>;
  valLoss?: number;
  valMetrics?: Record<string, number>;
  seconds: number;
}

export interface TrainingResult {
  epochs: number;
  steps: number;
  samples: number;
  seconds: number;
  backend: ResolvedBackend;
  workerBackends: string[];
  final?: EpochReport;
  history: EpochReport[];
}

interface Session {
  id: number;
  name: string;
  socket: WebSocket;
  state: 'handshake' | 'joining' | 'ready';
  backend?: string;
  /** Chunks of the current step this worker owes us. */
  owed: Set<number>;
  /** When we last heard anything from it (a frame or a pong), for the heartbeat. */
  heardAt: number;
}

interface StepState {
  step: number;
  plan: BatchPlan;
  weights: Uint8Array<ArrayBuffer>;
  /** Chunks no live worker holds (their worker left, or none was ready). */
  orphans: number[];
  lossSums: Float64Array;
  metricSums: Float64Array[];
  done: () => void;
  fail: (err: AdamantError) => void;
}

const DROPOUT_PURPOSE = 2;
const HANDSHAKE_TIMEOUT_MS = 15_000;

/**
 * The parameter server and the job's life. It owns the weights and Adam's moments, listens for
 * workers on a WebSocket, splits every global batch into fixed chunks, hands the chunks (rows
 * included, so workers need no shared filesystem) to the workers that are ready, combines the
 * returned gradient sums in chunk order, applies Adam and moves on. A worker that leaves mid-step
 * has its chunks handed to the others: no sample is lost or counted twice.
 *
 * Started by `adamant coordinator` (multi-machine) or inside `adamant train` (local processes):
 * `create()`, then `listen()`, then `train()`, then `close()`.
 */
export class Coordinator {
  private readonly log: Log;
  private readonly codec = createCodec();
  private readonly sessions = new Map<number, Session>();
  private readonly reducer: GradientReducer;
  private readonly adam: Adam;
  private readonly params: Float32Array;
  private readonly job: WorkerJob;
  private server: WebSocketServer | undefined;
  private nextWorkerId = 1;
  private current: StepState | undefined;
  private readyWaiters: (() => void)[] = [];
  private aborted: AdamantError | undefined;
  private finished = false;
  private trainingStarted = false;
  private starvedTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;

  private constructor(
    private readonly options: CoordinatorOptions,
    readonly backend: ResolvedBackend,
    readonly data: PreparedData,
    readonly layers: LayerSpec[],
    private readonly model: tf.Sequential,
    readonly layout: ParamLayout,
  ) {
    this.log = options.log ?? silentLog;
    this.params = layout.read(model);
    this.adam = new Adam(layout.size, options.config.optimizer.adam);
    this.reducer = new GradientReducer(layout.size, embeddingTable(layers));
    const { config } = options;
    this.job = {
      layers,
      loss: config.loss,
      metrics: config.metrics,
      backend: config.backend,
      seed: config.seed,
      inputShape: sampleShape(layers, data.train.featureCount),
      paramCount: layout.size,
    };
  }

  /** Loads the data, picks the backend and builds the model; nothing listens yet. */
  static async create(options: CoordinatorOptions): Promise<Coordinator> {
    const { config, source } = options;
    const data = prepareData(config, options.tokenizer ? { tokenizer: options.tokenizer } : {});
    const layers = resolveInputShape(config.model, data.train.featureCount, source);
    // The coordinator only runs inference (validation), which every backend can do.
    const backend = await useBackend(config.backend);
    const model = buildModel(layers, config.seed);
    return new Coordinator(options, backend, data, layers, model, ParamLayout.fromModel(model));
  }

  get config(): JobConfig {
    return this.options.config;
  }

  /** Replaces the weights before training (e.g. from `--init`); checked for size and finiteness. */
  setWeights(weights: Float32Array, source: string): void {
    if (weights.length !== this.layout.size) throw new ShapeError(`${source}: has ${weights.length} parameters, the model has ${this.layout.size}`);
    const bad = firstNonFinite(weights);
    if (bad >= 0) throw new NumericError(`${source}: weight ${weightNameAt(this.layout, bad)} is ${weights[bad]}`);
    this.params.set(weights);
  }

  private get heartbeatMs(): number {
    return this.options.heartbeatMs ?? 60_000;
  }

  /** Whether the first step has begun (enough workers joined). */
  get started(): boolean {
    return this.trainingStarted;
  }

  get workerCount(): number {
    return this.readySessions().length;
  }

  private readySessions(): Session[] {
    return [...this.sessions.values()].filter((s) => s.state === 'ready');
  }

  /** Starts accepting workers. Resolves with the bound address (port 0 picks a free one). */
  async listen(): Promise<{ host: string; port: number; url: string }> {
    const host = this.options.host ?? '127.0.0.1';
    // A chunk result is the gradient (4 bytes per parameter) plus a few hundred bytes of header.
    const maxPayload = this.layout.size * 4 + (1 << 20);
    const server = new WebSocketServer({ host, port: this.options.port ?? 0, maxPayload, perMessageDeflate: false });
    this.server = server;
    server.on('connection', (socket, request) => this.accept(socket, request));
    const heartbeat = this.heartbeatMs;
    this.heartbeatTimer = setInterval(() => this.checkHeartbeats(heartbeat), Math.max(heartbeat / 4, 50));
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    const address = server.address() as AddressInfo;
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    return { host: address.address, port: address.port, url: `ws://${shownHost}:${address.port}` };
  }

  /** Pings every worker; drops those silent for longer than `heartbeat` ms. */
  private checkHeartbeats(heartbeat: number): void {
    const now = performance.now();
    for (const session of [...this.sessions.values()]) {
      if (now - session.heardAt > heartbeat) {
        this.log.warn('worker silent; presumed gone', { worker: session.name, silentMs: Math.round(now - session.heardAt) });
        // terminate(), not close(): a peer behind a partition would never answer the close handshake.
        session.socket.terminate();
        this.onClose(session, `no answer for ${Math.round(heartbeat / 1000)} s (heartbeat)`);
      } else {
        session.socket.ping();
      }
    }
  }

  private accept(socket: WebSocket, request: IncomingMessage): void {
    const session: Session = {
      id: this.nextWorkerId++,
      name: `${request.socket.remoteAddress ?? '?'}:${request.socket.remotePort ?? '?'}`,
      socket,
      state: 'handshake',
      owed: new Set(),
      heardAt: performance.now(),
    };
    socket.on('pong', () => {
      session.heardAt = performance.now();
    });
    this.sessions.set(session.id, session);
    const handshakeTimer = setTimeout(() => {
      if (session.state === 'handshake') this.drop(session, 1008, 'no hello within 15 s');
    }, HANDSHAKE_TIMEOUT_MS);
    socket.on('message', (data: Buffer, isBinary: boolean) => {
      session.heardAt = performance.now();
      try {
        if (!isBinary) throw new ProtocolError(`worker ${session.name}: sent a text frame; the protocol is binary msgpack`);
        this.onMessage(session, data);
      } catch (err) {
        const error = toAdamantError(err);
        if (error.code === 'E_NUMERIC' || error.code === 'E_INTERNAL') return this.abort(error);
        this.log.warn('dropping worker', { worker: session.name, code: error.code, error: error.message });
        this.reject(session, error);
      }
    });
    socket.on('close', (code, reason) => {
      clearTimeout(handshakeTimer);
      const why = code === 1009 ? 'sent a frame over the size limit' : reason.toString() || `connection closed (code ${code})`;
      this.onClose(session, why);
    });
    socket.on('error', (err) => this.log.debug('socket error', { worker: session.name, error: err.message }));
  }

  private send(session: Session, message: CoordinatorMessage): void {
    session.socket.send(this.codec.encode(message));
  }

  private reject(session: Session, error: AdamantError): void {
    const code = (['E_VERSION', 'E_AUTH'] as const).find((c) => c === error.code) ?? 'E_PROTOCOL';
    try {
      this.send(session, { type: 'reject', code, message: error.message });
    } catch {
      // Already gone.
    }
    this.drop(session, 1008, error.code);
  }

  private drop(session: Session, code: number, reason: string): void {
    session.socket.close(code, reason.slice(0, 120));
    // Do not wait for the peer's close frame to reassign its chunks.
    this.onClose(session, reason);
  }

  private onMessage(session: Session, frame: Buffer): void {
    const message = this.codec.decodeWorkerMessage(frame, `worker ${session.name}`);
    switch (message.type) {
      case 'hello': {
        if (session.state !== 'handshake') throw new ProtocolError(`worker ${session.name}: sent a second hello`);
        session.name = `${message.name} (${session.name})`;
        if (message.protocol !== PROTOCOL_VERSION) {
          throw new ProtocolError(`worker ${session.name} speaks protocol ${message.protocol}, the coordinator speaks ${PROTOCOL_VERSION}; run the same Adamant version on both`, 'E_VERSION');
        }
        if (this.options.token !== undefined && message.token !== this.options.token) {
          throw new ProtocolError(`worker ${session.name} presented ${message.token === undefined ? 'no token' : 'a wrong token'}`, 'E_AUTH');
        }
        session.state = 'joining';
        this.send(session, { type: 'welcome', protocol: PROTOCOL_VERSION, workerId: session.id, job: this.job, heartbeatMs: this.heartbeatMs });
        return;
      }
      case 'ready': {
        if (session.state !== 'joining') throw new ProtocolError(`worker ${session.name}: sent ready before its hello`);
        session.state = 'ready';
        session.backend = message.backend;
        const others = new Set([...this.sessions.values()].filter((s) => s.backend).map((s) => s.backend));
        if (others.size > 1) this.log.warn('workers run different backends: results stay correct but are no longer bitwise reproducible', { backends: [...others] });
        this.log.info('worker joined', { worker: session.name, id: session.id, backend: message.backend });
        this.options.onWorker?.({ kind: 'joined', workerId: session.id, name: session.name, backend: message.backend, workers: this.workerCount });
        this.fed();
        for (const wake of this.readyWaiters.splice(0)) wake();
        if (this.current?.orphans.length) this.distribute(this.current, this.current.orphans.splice(0));
        return;
      }
      case 'chunk':
        if (session.state !== 'ready') throw new ProtocolError(`worker ${session.name}: sent a chunk before it was ready`);
        this.onChunk(session, message);
        return;
      case 'failed':
        this.log.error('worker failed', { worker: session.name, code: message.code, error: message.message });
        this.drop(session, 1000, `worker failed: ${message.code}`);
        return;
    }
  }

  private onChunk(session: Session, message: ChunkResult): void {
    const state = this.current;
    const peer = `worker ${session.name}`;
    if (!state || message.step !== state.step || !session.owed.has(message.index)) {
      // A late answer for a step that has moved on, or for a chunk that was given to another worker.
      this.log.debug('ignoring unexpected chunk', { worker: session.name, step: message.step, index: message.index });
      return;
    }
    const planned = state.plan.chunks[message.index]!;
    if (message.samples !== planned.rows.length) {
      throw new ProtocolError(`${peer}: chunk ${message.index} reports ${message.samples} samples, it has ${planned.rows.length}`);
    }
    if (message.metricSums.length !== this.options.config.metrics.length) {
      throw new ProtocolError(`${peer}: chunk ${message.index} has ${message.metricSums.length} metric sums, expected ${this.options.config.metrics.length}`);
    }
    const part = decodeChunkPart(message, this.layout, this.reducer.table, peer);
    const nonFinite = describeNonFinite(part, this.layout, this.reducer.table) ?? (Number.isFinite(message.lossSum) ? undefined : `loss is ${message.lossSum}`);
    if (nonFinite) {
      throw new NumericError(
        `step ${state.step} (epoch ${state.plan.epoch + 1}, batch ${state.plan.batch + 1}), chunk ${message.index} from ${peer}: ${nonFinite}; the weights were not updated. Lower the learning rate or check the data`,
      );
    }
    session.owed.delete(message.index);
    state.lossSums[message.index] = message.lossSum;
    message.metricSums.forEach((v, i) => {
      state.metricSums[i]![message.index] = v;
    });
    this.reducer.add(message.index, part);
    if (this.reducer.complete) state.done();
  }

  private onClose(session: Session, reason: string): void {
    if (!this.sessions.delete(session.id)) return;
    const wasReady = session.state === 'ready';
    const owed = [...session.owed].sort((a, b) => a - b);
    session.owed.clear();
    if (wasReady && !this.finished) {
      this.log.info('worker left', { worker: session.name, id: session.id, reason, reassigned: owed.length });
      this.options.onWorker?.({ kind: 'left', workerId: session.id, name: session.name, reason, workers: this.workerCount });
    }
    if (this.current && owed.length > 0) this.distribute(this.current, owed);
  }

  /** Sends chunks of the current step to the ready workers; keeps them as orphans if there are none. */
  private distribute(state: StepState, chunks: number[]): void {
    const ready = this.readySessions();
    if (ready.length === 0) {
      state.orphans.push(...chunks);
      this.log.warn('no worker is ready; waiting for one to join', { step: state.step, chunks: chunks.length });
      this.starving('no worker has been ready');
      return;
    }
    const train = this.data.train;
    for (const [session, indices] of assignChunks(chunks, ready)) {
      const inputs: Float32Array[] = [];
      const assignments = indices.map((index) => {
        const chunk = state.plan.chunks[index]!;
        const { x, y } = gatherRows(train, chunk.rows);
        inputs.push(x);
        session.owed.add(index);
        return { index, samples: chunk.rows.length, seed: mixSeed(this.options.config.seed, DROPOUT_PURPOSE, state.step, index), x: floatBytes(x), y: floatBytes(y) };
      });
      this.send(session, { type: 'step', step: state.step, weights: state.weights, ...(this.reducer.table ? tableRowsFor(inputs, this.reducer.table, this.params) : {}), chunks: assignments });
    }
  }

  private waitForWorkers(count: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const check = () => {
        if (this.aborted) return reject(this.aborted);
        if (this.workerCount >= count) return resolve();
        this.starving(`only ${this.workerCount} of ${count} workers have been ready`);
        this.readyWaiters.push(check);
      };
      check();
    });
  }

  /** Training is blocked on workers: start the --worker-timeout clock unless it runs already. */
  private starving(what: string): void {
    const timeout = this.options.workerTimeoutMs;
    if (!timeout || this.starvedTimer) return;
    this.starvedTimer = setTimeout(() => {
      this.abort(new ConnectError(`${what} for ${timeout / 1000} s (--worker-timeout); is \`adamant worker --connect\` running and able to reach this host?`));
    }, timeout);
  }

  /** A worker became ready: stop the clock (it restarts if training blocks again). */
  private fed(): void {
    clearTimeout(this.starvedTimer);
    this.starvedTimer = undefined;
  }

  /** Stops training with `error` (train() rejects with it); e.g. when every local worker process died. */
  abort(error: AdamantError): void {
    this.fed();
    this.aborted ??= error;
    this.current?.fail(error);
    for (const wake of this.readyWaiters.splice(0)) wake();
  }

  private runStep(step: number, plan: BatchPlan): Promise<StepState> {
    const metricCount = this.options.config.metrics.length;
    return new Promise<StepState>((resolve, reject) => {
      const state: StepState = {
        step,
        plan,
        weights: floatBytes(this.params.subarray(this.reducer.denseOffset)),
        orphans: [],
        lossSums: new Float64Array(plan.chunks.length),
        metricSums: Array.from({ length: metricCount }, () => new Float64Array(plan.chunks.length)),
        done: () => resolve(state),
        fail: reject,
      };
      if (this.aborted) return reject(this.aborted);
      this.current = state;
      this.reducer.begin(plan.chunks.length, plan.size);
      this.distribute(state, plan.chunks.map((c) => c.index));
    });
  }

  /**
   * Runs the job's epochs: waits for `minWorkers`, then for each global batch hands out its
   * chunks, combines the gradients, applies Adam. Validates after every epoch.
   */
  async train(): Promise<TrainingResult> {
    const { config } = this.options;
    const started = performance.now();
    const history: EpochReport[] = [];
    const train = this.data.train;
    const chunkSize = chunkSizeOf(config);
    const metricNames = config.metrics;
    let step = 0;
    let samples = 0;
    if (config.epochs > 0) {
      this.log.info('waiting for workers', { minWorkers: this.options.minWorkers ?? 1 });
      await this.waitForWorkers(this.options.minWorkers ?? 1);
    }
    this.trainingStarted = true;
    const validation = this.data.validation.rows > 0 ? this.tensorsOf(this.data.validation) : undefined;
    try {
      for (let epoch = 0; epoch < config.epochs; epoch++) {
        const epochStarted = performance.now();
        const batches = planEpoch(epochOrder(train.rows, config.seed, epoch, config.shuffle), epoch, config.batchSize, chunkSize);
        let lossTotal = 0;
        const metricTotals = metricNames.map(() => 0);
        for (const plan of batches) {
          const stepStarted = performance.now();
          const state = await this.runStep(step, plan);
          const gathered = performance.now();
          this.applyAdam();
          this.log.debug('step done', { step, gatherMs: +(gathered - stepStarted).toFixed(1), adamMs: +(performance.now() - gathered).toFixed(1) });
          // Sums in chunk order, so reported losses are as reproducible as the weights.
          let batchLoss = 0;
          for (const v of state.lossSums) batchLoss += v;
          lossTotal += batchLoss;
          state.metricSums.forEach((sums, i) => {
            for (const v of sums) metricTotals[i]! += v;
          });
          step++;
          samples += plan.size;
          this.options.onStep?.({ epoch, batch: plan.batch, batches: batches.length, step, samples: plan.size, loss: batchLoss / plan.size });
        }
        this.current = undefined;
        const report: EpochReport = {
          epoch: epoch + 1,
          epochs: config.epochs,
          ...meansOf({ samples: train.rows, lossSum: lossTotal, metricSums: metricTotals }, metricNames),
          seconds: (performance.now() - epochStarted) / 1000,
        };
        if (validation) {
          this.options.onValidate?.({ epoch: epoch + 1, samples: this.data.validation.rows });
          Object.assign(report, this.validate(validation));
        }
        history.push(report);
        this.log.info('epoch done', { ...report });
        this.options.onEpoch?.(report);
      }
    } finally {
      this.current = undefined;
      validation?.x.dispose();
      validation?.y.dispose();
    }
    this.layout.write(this.model, this.params);
    this.finished = true;
    for (const session of this.sessions.values()) if (session.state !== 'handshake') this.send(session, { type: 'done' });
    return {
      epochs: config.epochs,
      steps: step,
      samples,
      seconds: (performance.now() - started) / 1000,
      backend: this.backend,
      workerBackends: [...new Set([...this.sessions.values()].map((s) => s.backend).filter((b): b is string => !!b))],
      ...(history.length ? { final: history.at(-1)! } : {}),
      history,
    };
  }

  /**
   * Exact dense Adam over every parameter (what single-process training does), or, with
   * `lazyEmbedding`, Adam on the dense part and only the embedding rows this step touched.
   */
  private applyAdam(): void {
    const mean = this.reducer.mean();
    const table = this.reducer.table;
    if (!table || !this.options.config.optimizer.adam.lazyEmbedding) {
      this.adam.apply(this.params, mean);
      return;
    }
    this.adam.applyRange(this.params, mean, this.reducer.denseOffset, this.layout.size);
    for (const row of this.reducer.touchedRows) this.adam.applyRange(this.params, mean, row * table.dim, (row + 1) * table.dim);
    this.adam.finishStep();
  }

  private tensorsOf(data: Dataset): { x: tf.Tensor; y: tf.Tensor } {
    return { x: tf.tensor(data.x, [data.rows, ...this.job.inputShape]), y: tf.tensor(data.y, [data.rows, 1]) };
  }

  private validate(validation: { x: tf.Tensor; y: tf.Tensor }): Pick<EpochReport, 'valLoss' | 'valMetrics'> {
    this.layout.write(this.model, this.params);
    const { metrics } = this.options.config;
    const { loss, metrics: means } = meansOf(evaluateSums(this.model, this.options.config.loss, metrics, validation.x, validation.y), metrics);
    return { valLoss: loss, valMetrics: means };
  }

  /** Saves the current weights as a tfjs layers model, with Adamant's metadata beside it. */
  async save(dir: string, summary?: unknown): Promise<void> {
    this.layout.write(this.model, this.params);
    const { config } = this.options;
    await saveModel(this.model, dir, {
      adamant: 1,
      config: { ...config, model: this.layers },
      featureNames: this.data.featureNames,
      normalization: this.data.normalization ?? null,
      tokenizer: this.data.tokenizer ?? null,
      summary: summary ?? null,
    });
  }

  /** Stops listening and disconnects every worker. */
  async close(): Promise<void> {
    this.finished = true;
    clearInterval(this.heartbeatTimer);
    this.fed();
    for (const session of this.sessions.values()) session.socket.close(1001, 'coordinator shutting down');
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
    this.model.dispose();
  }
}
