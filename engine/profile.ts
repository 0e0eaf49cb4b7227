/** Per-dispatch GPU time from timestamp queries: while a profile is open every dispatch
 * gets a compute pass of its own whose begin and end are timestamped, so the time of
 * each kernel is measured on the GPU's clock, not guessed from wall time. Buffer copies
 * and clears are timed between two empty passes (keys `copy`, `clear`). */

const CAPACITY = 1024; // dispatches per query set (two timestamps each)

export interface DispatchTime {
  /** the kernel's specialisation key (`conv.direct:3x3:...`), or `copy` / `clear` */
  key: string;
  ns: number;
}

/** The keys of timed transfers: they are not kernel dispatches. */
export const TRANSFER_KEYS: readonly string[] = ['copy', 'clear'];

export class Profiler {
  private readonly querySet: GPUQuerySet;
  private keys: string[] = [];
  private readonly chunks: Promise<DispatchTime[]>[] = [];

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * CAPACITY });
  }

  get full(): boolean {
    return this.keys.length >= CAPACITY;
  }

  /** The timestamp writes of the next dispatch's pass. */
  writes(key: string): GPUComputePassTimestampWrites {
    const i = this.keys.length;
    this.keys.push(key);
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 };
  }

  /** The timestamp writes of two empty passes around the next transfer (a copy or a
   * clear, which cannot carry timestamps of its own): `before` ends just before it,
   * `after` begins just after it. */
  bracket(key: string): { before: GPUComputePassTimestampWrites; after: GPUComputePassTimestampWrites } {
    const { querySet, beginningOfPassWriteIndex: start, endOfPassWriteIndex: end } = this.writes(key);
    return { before: { querySet, endOfPassWriteIndex: start }, after: { querySet, beginningOfPassWriteIndex: end } };
  }

  /** Encode the resolve of the timestamps written so far; `submitted` is called once
   * the encoder is submitted and starts their readback. */
  resolve(encoder: GPUCommandEncoder): (() => void) | null {
    const n = this.keys.length;
    if (n === 0) return null;
    const bytes = 2 * n * 8;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, 2 * n, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    const keys = this.keys;
    this.keys = [];
    return () => {
      this.chunks.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigInt64Array(staging.getMappedRange().slice(0));
          staging.destroy();
          resolved.destroy();
          return keys.map((key, i) => ({ key, ns: Math.max(0, Number(t[2 * i + 1]! - t[2 * i]!)) }));
        }),
      );
    };
  }

  /** Every dispatch's time, in dispatch order (after the last resolve was submitted). */
  async times(): Promise<DispatchTime[]> {
    const parts = await Promise.all(this.chunks);
    this.querySet.destroy();
    return parts.flat();
  }
}

export interface KernelProfileRow {
  /** op family: the key up to its first ':' (`conv.direct`, `matmul`, `unary`) */
  family: string;
  /** the full specialisation key */
  variant: string;
  dispatches: number;
  ms: number;
  /** share of the profiled GPU time */
  share: number;
}

/** Dispatch times summed per kernel variant, largest first. */
export function summariseProfile(times: readonly DispatchTime[]): KernelProfileRow[] {
  const by = new Map<string, { n: number; ns: number }>();
  for (const t of times) {
    const e = by.get(t.key) ?? { n: 0, ns: 0 };
    e.n++;
    e.ns += t.ns;
    by.set(t.key, e);
  }
  const total = times.reduce((a, t) => a + t.ns, 0) || 1;
  return [...by]
    .map(([variant, e]) => ({ family: variant.split(':')[0]!, variant, dispatches: e.n, ms: e.ns / 1e6, share: e.ns / total }))
    .sort((a, b) => b.ms - a.ms);
}

/** The same, summed per op family. */
export function profileByFamily(rows: readonly KernelProfileRow[]): KernelProfileRow[] {
  const by = new Map<string, KernelProfileRow>();
  for (const r of rows) {
    const e = by.get(r.family) ?? { family: r.family, variant: '*', dispatches: 0, ms: 0, share: 0 };
    e.dispatches += r.dispatches;
    e.ms += r.ms;
    e.share += r.share;
    by.set(r.family, e);
  }
  return [...by.values()].sort((a, b) => b.ms - a.ms);
}
