export { Coordinator, type CoordinatorOptions, type EpochReport, type StepReport, type TrainingResult, type WorkerEvent } from './Coordinator.js';
export { GradientReducer } from './GradientReducer.js';
export { assignChunks } from './assignChunks.js';
