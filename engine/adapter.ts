/** What kernel choices need to know about the adapter, computed once per runtime. */
export interface AdapterProfile {
  /** `llvmpipe` (Mesa's lavapipe) and `swiftshader` run WebGPU on the CPU; `gpu` is
   * everything else (browsers without adapter.info included) */
  kind: 'gpu' | 'llvmpipe' | 'swiftshader';
  /** a CPU driver: a workgroup runs on one core, shared memory is plain memory and
   * barriers switch coroutines */
  software: boolean;
  subgroups: boolean;
  /** the subgroup size where the adapter has one fixed size (llvmpipe 8, SwiftShader
   * 4), else 0 */
  subgroupSize: number;
  shaderF16: boolean;
  timestamps: boolean;
}

export function adapterProfile(adapter: GPUAdapter): AdapterProfile {
  const i: Partial<GPUAdapterInfo> = adapter.info ?? {};
  const names = `${i.vendor} ${i.architecture} ${i.device} ${i.description}`;
  const kind = /llvmpipe|lavapipe/i.test(names) ? 'llvmpipe' : /swiftshader/i.test(names) || i.isFallbackAdapter === true ? 'swiftshader' : 'gpu';
  return {
    kind,
    software: kind !== 'gpu',
    subgroups: adapter.features.has('subgroups'),
    subgroupSize: adapter.features.has('subgroups') && i.subgroupMinSize === i.subgroupMaxSize ? (i.subgroupMinSize ?? 0) : 0,
    shaderF16: adapter.features.has('shader-f16'),
    timestamps: adapter.features.has('timestamp-query'),
  };
}
