import type { PrimitiveTable } from '../primitives.js';
import { elementwise, type ElementwiseParams } from './elementwise.js';
import { matmulPrims, type MatmulParams } from './matmul.js';
import { convPrims, type ConvParams } from './conv.js';
import { poolingPrims, type PoolingParams } from './pooling.js';
import { reducePrims, type ReduceParams } from './reduce.js';
import { normPrims, type NormParams } from './norm.js';
import { layoutPrims, type LayoutParams } from './layout.js';
import { attentionPrims, type AttentionParams } from './attention.js';
import { samplePrims, type SampleParams } from './sample.js';

/** Every primitive's parameters; the table below must define each one (forward kernel
 * and JVP rule), or this file does not compile. */
export type PrimitiveParams = ElementwiseParams &
  MatmulParams &
  ConvParams &
  PoolingParams &
  ReduceParams &
  NormParams &
  LayoutParams &
  AttentionParams &
  SampleParams;
export type Primitive = keyof PrimitiveParams;

let table: PrimitiveTable<PrimitiveParams> | null = null;

/** The rule table. Built on first use, not at import: the op modules import `bind`,
 * which imports this module, so the families' tables exist only once every module of
 * the cycle has been evaluated. */
export function primitives(): PrimitiveTable<PrimitiveParams> {
  table ??= {
    ...elementwise,
    ...matmulPrims,
    ...convPrims,
    ...poolingPrims,
    ...reducePrims,
    ...normPrims,
    ...layoutPrims,
    ...attentionPrims,
    ...samplePrims,
  };
  return table;
}
