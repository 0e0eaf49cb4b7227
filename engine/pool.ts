/** Size classes: 8 steps per power of two above 1 KiB, so a freed buffer is reused for
 * any request within 12.5 % of its size and pooled memory wastes at most that much. */
export function sizeClass(bytes: number): number {
  const min = 1024;
  if (bytes <= min) return min;
  const p = 2 ** Math.floor(Math.log2(bytes));
  const step = p / 8;
  return Math.ceil(bytes / step) * step;
}

const USAGE_STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST

/** Reuses GPU storage buffers by size class. Buffers go back to the pool the moment
 * their tensor is freed: later GPU work that reuses one is ordered after earlier work
 * on the same queue, so no fence is needed. */
export class BufferPool {
  private readonly free = new Map<number, GPUBuffer[]>();
  private readonly live = new Set<GPUBuffer>();
  pooledBytes = 0;
  liveBytes = 0;
  peakLiveBytes = 0;
  private closed = false;

  constructor(private readonly device: GPUDevice) {}

  acquire(bytes: number): GPUBuffer {
    if (this.closed) throw new Error('buffer pool used after its device was closed');
    const size = sizeClass(Math.max(bytes, 4));
    const list = this.free.get(size);
    let buffer = list?.pop();
    if (buffer) this.pooledBytes -= size;
    else buffer = this.device.createBuffer({ size, usage: USAGE_STORAGE });
    this.live.add(buffer);
    this.liveBytes += size;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return buffer;
  }

  release(buffer: GPUBuffer): void {
    if (!this.live.delete(buffer)) throw new Error('buffer released twice or not from this pool');
    this.liveBytes -= buffer.size;
    if (this.closed) {
      buffer.destroy();
      return;
    }
    this.pooledBytes += buffer.size;
    let list = this.free.get(buffer.size);
    if (!list) this.free.set(buffer.size, (list = []));
    list.push(buffer);
  }

  /** Destroy every pooled (unused) buffer. */
  trim(): void {
    for (const list of this.free.values()) for (const b of list) b.destroy();
    this.free.clear();
    this.pooledBytes = 0;
  }

  /** The device is going away: free what is pooled, and drop buffers still held by
   * tensors when those are disposed. */
  close(): void {
    this.trim();
    this.closed = true;
  }

  get liveCount(): number {
    return this.live.size;
  }
}
