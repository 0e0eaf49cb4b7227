import { runtime } from './runtime.js';
import type { BufferPool } from './pool.js';

export type Shape = readonly number[];

export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i]!;
  }
  return s;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** A pooled GPU buffer shared by a tensor and its reshaped views. It goes back to the
 * pool it came from, whatever runtime is current when the last view is freed (the pool
 * drops it if its device has been closed since). */
class Storage {
  refs = 1;
  constructor(
    readonly buffer: GPUBuffer,
    readonly bytes: number,
    private readonly pool: BufferPool,
  ) {}
  release(): void {
    if (--this.refs === 0) this.pool.release(this.buffer);
  }
}

/** Tensors created while a scope is open are owned by it (see `tidy`). */
const scopes: Set<Tensor>[] = [];

/** A float32 tensor on the GPU; shape lives on the CPU. */
export class Tensor {
  readonly shape: Shape;
  readonly size: number;
  private storage: Storage | null;

  private constructor(shape: Shape, storage: Storage) {
    this.shape = Object.freeze([...shape]);
    this.size = numel(shape);
    this.storage = storage;
    scopes[scopes.length - 1]?.add(this);
  }

  /** An uninitialised tensor (kernels write it). */
  static empty(shape: Shape): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new Error(`invalid shape [${shape.join(', ')}]`);
    }
    const bytes = numel(shape) * 4;
    const pool = runtime().pool;
    return new Tensor(shape, new Storage(pool.acquire(bytes), bytes, pool));
  }

  static fromData(data: ArrayLike<number>, shape: Shape): Tensor {
    if (data.length !== numel(shape)) {
      throw new Error(`data has ${data.length} values but shape [${shape.join(', ')}] needs ${numel(shape)}`);
    }
    const t = Tensor.empty(shape);
    if (t.size > 0) runtime().write(t.buffer, data instanceof Float32Array ? data : Float32Array.from(data));
    return t;
  }

  get rank(): number {
    return this.shape.length;
  }

  get buffer(): GPUBuffer {
    if (!this.storage) throw new Error('tensor used after dispose');
    return this.storage.buffer;
  }

  get disposed(): boolean {
    return this.storage === null;
  }

  /** A view with a new shape over the same buffer (no copy). One dim may be -1. */
  reshape(shape: Shape): Tensor {
    const known = shape.reduce((a, d) => (d === -1 ? a : a * d), 1);
    const resolved = shape.map((d) => (d === -1 ? this.size / known : d));
    if (numel(resolved) !== this.size || resolved.some((d) => !Number.isInteger(d) || d < 0)) {
      throw new Error(`cannot reshape [${this.shape.join(', ')}] to [${shape.join(', ')}]`);
    }
    const storage = this.storage;
    if (!storage) throw new Error('tensor used after dispose');
    storage.refs++;
    return new Tensor(resolved, storage);
  }

  async read(): Promise<Float32Array> {
    return runtime().read(this.buffer, this.size * 4);
  }

  dispose(): void {
    if (!this.storage) return;
    this.storage.release();
    this.storage = null;
    for (const s of scopes) s.delete(this);
  }
}

function collect(value: unknown, out: Set<Tensor>, seen = new Set<unknown>()): void {
  if (value instanceof Tensor) {
    out.add(value);
    return;
  }
  if (value === null || typeof value !== 'object' || seen.has(value)) return;
  seen.add(value);
  if (value instanceof Map) {
    for (const v of value.values()) collect(v, out, seen);
  } else if (Array.isArray(value)) {
    for (const v of value) collect(v, out, seen);
  } else if (Object.getPrototypeOf(value) === Object.prototype || Object.getPrototypeOf(value) === null) {
    for (const v of Object.values(value)) collect(v, out, seen);
  }
}

/** Run `fn`, then free every tensor it created except those reachable from its result
 * (tensors, arrays, plain objects, Maps), which move to the enclosing scope. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
    if (result instanceof Promise) throw new Error('tidy() takes a synchronous function');
  } catch (e) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw e;
  }
  scopes.pop();
  const kept = new Set<Tensor>();
  collect(result, kept);
  const parent = scopes[scopes.length - 1];
  for (const t of scope) {
    if (kept.has(t)) parent?.add(t);
    else t.dispose();
  }
  return result;
}

/** Take tensors out of every open scope: the caller now owns them. */
export function keep<T>(value: T): T {
  const ts = new Set<Tensor>();
  collect(value, ts);
  for (const t of ts) for (const s of scopes) s.delete(t);
  return value;
}

/** Dispose every tensor reachable from `value`. */
export function dispose(value: unknown): void {
  const ts = new Set<Tensor>();
  collect(value, ts);
  for (const t of ts) t.dispose();
}
