/** lee-gpu: exact Lie derivatives of vision models on WebGPU. */
export * from './engine/index.js';
export { loadSafetensors, parseSafetensors, encodeSafetensors, type HostTensor, type SafetensorsFile } from './engine/safetensors.js';
export { createModel, modelSpec, parameterCount, MODELS } from './models/registry.js';
export { randomWeights } from './models/init.js';
export type { ModelSpec, Preprocess, BuildOptions } from './models/spec.js';
export { lieDerivatives, imageTangents, summarise, type Classifier, type LieResult } from './lee/lie.js';
export { mapLieDerivative, mapTangents, mapLayout, layoutOf, type MapLayout } from './lee/featuremaps.js';
export { GENERATORS, COLUMN, parseGenerators, type Generator } from './lee/transforms.js';
export { runE2E, type ImageSource, type E2EResult } from './lee/e2e.js';
export { layerwise, runLayerwise, type Layer, type LayerwiseOptions, type LayerwiseResult, type LayerwiseRun } from './lee/layerwise.js';
export { layerwiseCsv, layerwiseSvg, LAYERWISE_COLUMNS } from './lee/layerwise-report.js';
export { withLayerHook, layerOp, layerModules, type LayerCall, type LayerHook } from './models/hooks.js';
export { withoutFolding } from './models/fold.js';
export { sampleMetrics, SAMPLE_METRIC_COLUMNS } from './lee/metrics.js';
export { e2eCsv, e2eColumns } from './lee/report.js';
export const VERSION = '0.1.0';
