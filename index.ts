/** lee-gpu: exact Lie derivatives of vision models on WebGPU. */
export * from './engine/index.js';
export { loadSafetensors, parseSafetensors, encodeSafetensors, type HostTensor, type SafetensorsFile } from './engine/safetensors.js';
export const VERSION = '0.1.0';
