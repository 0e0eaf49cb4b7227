/** The public ops: functions of duals (or plain tensors) returning duals. Kernel
 * tilings, rule tables and tensor-level helpers stay in their modules. */
export { relu, relu6, gelu, geluTanh, silu, sigmoid, tanh, hardswish, exp, log, sqrt, rsqrt, square } from './elementwise.js';
export { affine, scale, neg, add, addRelu, sub, mul, div, maximum, minimum } from './elementwise.js';
export { matmul, linear, type MatmulOptions } from './matmul.js';
export { conv2d, type Conv2dOptions, type ConvAlgorithm } from './conv.js';
export { maxPool2d, avgPool2d, adaptiveAvgPool2d, type MaxPool2dOptions, type AvgPool2dOptions } from './pooling.js';
export { sum, mean, max, softmax, logSoftmax } from './reduce.js';
export { layerNorm, groupNorm, batchNorm, type LayerNormOptions, type LayerNormAxis } from './norm.js';
export { reshape, flatten, unsqueeze, squeeze, permute, transpose, slice, narrow, flip, pad, concat, concatOrZeros, overwriteRows, expand, broadcastTo, roll, type PadMode } from './layout.js';
export { attention, qkvAttention, type AttentionOptions } from './attention.js';
export { gridSample, type Interp } from './sample.js';
