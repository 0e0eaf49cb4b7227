/** The public ops: functions of duals (or plain tensors) returning duals. */
export * from './elementwise.js';
