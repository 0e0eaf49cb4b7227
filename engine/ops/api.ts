/** The public ops: functions of duals (or plain tensors) returning duals. */
export * from './elementwise.js';
export * from './matmul.js';
export * from './conv.js';
export * from './pooling.js';
export * from './reduce.js';
export * from './norm.js';
export * from './layout.js';
export * from './attention.js';
export * from './sample.js';
