export { Coordinator } from './Coordinator.js';
export type { CheckpointPolicy, CoordinatorOptions } from './options.js';
export type { EpochReport, StepReport, TrainingResult, WorkerEvent } from './reports.js';
export type { ListenAddress, ListenTarget } from './WorkerServer.js';
export { ParameterServer, type ParameterServerState } from './ParameterServer.js';
export type { TrainingPosition } from './TrainingLoop.js';
export { GradientReducer } from './GradientReducer.js';
export { assignChunks } from './assignChunks.js';
