import { gpuHandle, releaseDevice } from './device.js';
import { LeeError } from './errors.js';
import { BufferPool } from './pool.js';
import { Profiler, type DispatchTime } from './profile.js';
import { adapterProfile, type AdapterProfile } from './adapter.js';

/** One compute dispatch. Bindings are numbered in order: inputs (read-only storage),
 * outputs (read-write storage), then the uniform block if any. */
export interface KernelCall {
  /** Specialisation key: equal keys must mean equal WGSL. */
  key: string;
  source: () => string;
  inputs: GPUBuffer[];
  outputs: GPUBuffer[];
  uniform?: ArrayBuffer;
  workgroups: readonly [number, number?, number?];
}

const MAX_PENDING_DISPATCHES = 256;
const MAX_CACHED_UNIFORMS = 8192;

export class Runtime {
  readonly pool: BufferPool;
  /** the adapter facts every kernel choice uses */
  readonly profile: AdapterProfile;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private pending = 0;
  private firstError: string | null = null;
  private lostMessage: string | null = null;
  private profiler: Profiler | null = null;
  readonly lost: Promise<never>;
  dispatches = 0;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: GPUAdapter,
  ) {
    this.pool = new BufferPool(device);
    this.profile = adapterProfile(adapter);
    this.lost = device.lost.then((info) => {
      this.lostMessage = `GPU device lost (${info.reason}): ${info.message}`;
      throw new LeeError(this.lostMessage);
    });
    this.lost.catch(() => undefined);
    device.addEventListener('uncapturederror', (event) => {
      const e = (event as GPUUncapturedErrorEvent).error;
      this.firstError ??= e.message;
    });
  }

  pipeline(key: string, source: () => string): GPUComputePipeline {
    let p = this.pipelines.get(key);
    if (!p) {
      const module = this.device.createShaderModule({ code: source(), label: key });
      p = this.device.createComputePipeline({ layout: 'auto', compute: { module, entryPoint: 'main' }, label: key });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Uniform blocks are immutable and cached by content: a model's dispatches repeat the
   * same few shapes, and a fresh buffer per dispatch would cost a queue write each. */
  private uniformBuffer(data: ArrayBuffer): GPUBuffer {
    const words = new Uint32Array(data);
    const key = words.join(',');
    let buffer = this.uniforms.get(key);
    if (!buffer) {
      if (this.uniforms.size >= MAX_CACHED_UNIFORMS) this.dropUniforms();
      const size = Math.max(16, Math.ceil(data.byteLength / 16) * 16);
      buffer = this.device.createBuffer({ size, usage: GPUBufferUsage.UNIFORM, mappedAtCreation: true });
      new Uint32Array(buffer.getMappedRange()).set(words);
      buffer.unmap();
      this.uniforms.set(key, buffer);
    }
    return buffer;
  }

  private dropUniforms(): void {
    this.flush();
    for (const b of this.uniforms.values()) b.destroy();
    this.uniforms.clear();
  }

  dispatch(call: KernelCall): void {
    this.check();
    const pipeline = this.pipeline(call.key, call.source);
    const buffers = [...call.inputs, ...call.outputs];
    const entries: GPUBindGroupEntry[] = buffers.map((buffer, binding) => ({ binding, resource: { buffer } }));
    if (call.uniform) entries.push({ binding: buffers.length, resource: { buffer: this.uniformBuffer(call.uniform) } });
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries });
    if (this.profiler) {
      if (this.profiler.full) this.flush();
      this.endPass();
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass({ timestampWrites: this.profiler.writes(call.key) });
    } else if (!this.pass) {
      this.encoder ??= this.device.createCommandEncoder();
      this.pass = this.encoder.beginComputePass();
    }
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    const [x, y = 1, z = 1] = call.workgroups;
    if (x > 0 && y > 0 && z > 0) this.pass.dispatchWorkgroups(x, y, z);
    if (this.profiler) this.endPass();
    this.dispatches++;
    if (++this.pending >= MAX_PENDING_DISPATCHES) this.flush();
  }

  /** Record a buffer copy (ends the open compute pass). */
  copy(src: GPUBuffer, srcOffset: number, dst: GPUBuffer, dstOffset: number, bytes: number): void {
    this.transfer('copy', (e) => e.copyBufferToBuffer(src, srcOffset, dst, dstOffset, bytes));
  }

  /** Record zeroing `bytes` of `buffer` from `offset` (ends the open compute pass). */
  clear(buffer: GPUBuffer, offset: number, bytes: number): void {
    this.transfer('clear', (e) => e.clearBuffer(buffer, offset, bytes));
  }

  /** Record one transfer on the encoder, outside any compute pass. Timestamps exist only
   * at pass boundaries, so a profile brackets it with two empty passes: the end of the
   * first and the beginning of the second time it. */
  private transfer(key: string, record: (encoder: GPUCommandEncoder) => void): void {
    if (this.profiler?.full) this.flush();
    this.endPass();
    this.encoder ??= this.device.createCommandEncoder();
    const marks = this.profiler?.bracket(key);
    if (marks) this.encoder.beginComputePass({ timestampWrites: marks.before }).end();
    record(this.encoder);
    if (marks) this.encoder.beginComputePass({ timestampWrites: marks.after }).end();
    this.pending++;
  }

  private endPass(): void {
    this.pass?.end();
    this.pass = null;
  }

  /** Submit everything recorded so far. */
  flush(): void {
    this.endPass();
    if (this.encoder) {
      const submitted = this.profiler?.resolve(this.encoder);
      this.device.queue.submit([this.encoder.finish()]);
      submitted?.();
      this.encoder = null;
      this.pending = 0;
    }
  }

  /** Time every dispatch and transfer until `stopProfile` (needs the adapter's timestamp-query). */
  startProfile(): void {
    if (!this.profile.timestamps) throw new LeeError('this adapter has no timestamp-query feature: no GPU-side profile');
    if (this.profiler) throw new Error('a profile is already open');
    this.flush();
    this.profiler = new Profiler(this.device);
  }

  /** Per-dispatch (and per-transfer) GPU times since `startProfile`, in recording order. */
  async stopProfile(): Promise<DispatchTime[]> {
    const p = this.profiler;
    if (!p) throw new Error('no profile is open');
    this.flush();
    this.profiler = null;
    return p.times();
  }

  /** Upload host data. Pending dispatches are submitted first: queue writes are ordered
   * against submissions, and the target may be a pooled buffer they still read. */
  write(buffer: GPUBuffer, data: Float32Array, offset = 0): void {
    this.flush();
    this.device.queue.writeBuffer(buffer, offset, data.buffer, data.byteOffset, data.byteLength);
  }

  async read(buffer: GPUBuffer, bytes: number): Promise<Float32Array> {
    this.flush();
    const staging = this.device.createBuffer({ size: Math.max(4, bytes), usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const encoder = this.device.createCommandEncoder();
    if (bytes > 0) encoder.copyBufferToBuffer(buffer, 0, staging, 0, bytes);
    this.device.queue.submit([encoder.finish()]);
    try {
      await Promise.race([staging.mapAsync(GPUMapMode.READ), this.lost]);
      this.check();
      return new Float32Array(staging.getMappedRange(0, bytes).slice(0));
    } finally {
      staging.destroy();
    }
  }

  /** Wait until the GPU has finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await Promise.race([this.device.queue.onSubmittedWorkDone(), this.lost]);
    this.check();
  }

  /** Throw the first uncaptured GPU error, or device loss, if any happened. */
  check(): void {
    if (this.lostMessage) throw new LeeError(this.lostMessage);
    if (this.firstError) {
      const message = this.firstError;
      this.firstError = null;
      throw new Error(`WebGPU error: ${message}`);
    }
  }
}

let active: Runtime | null = null;
let opening: Promise<Runtime> | null = null;

/** Open the GPU (once) and return the engine's runtime. */
export async function init(): Promise<Runtime> {
  if (active) return active;
  opening ??= gpuHandle().then(({ device, adapter }) => (active = new Runtime(device, adapter)));
  try {
    return await opening;
  } finally {
    opening = null;
  }
}

/** The GPUDevice the engine runs on (opening it on first use). */
export async function getDevice(): Promise<GPUDevice> {
  return (await init()).device;
}

export function runtime(): Runtime {
  if (!active) throw new Error('lee-gpu: no device yet; `await getDevice()` (or init()) before creating tensors');
  return active;
}

/** Free every pooled buffer and destroy the device. */
export async function shutdown(): Promise<void> {
  if (active) {
    active.flush();
    active.pool.close();
    active = null;
  }
  await releaseDevice();
}
