/** Building blocks shared by the WGSL templates. */

export const WG = 256;

export interface Binding {
  name: string;
  /** read-only input or written output */
  write?: boolean;
  type?: string;
}

/** Storage declarations numbered in order, then `params` as the uniform block: the
 * runtime binds inputs, outputs and the uniform in exactly this order. */
export function declare(bindings: readonly Binding[], paramsStruct?: string): string {
  const lines = bindings.map(
    (b, i) =>
      `@group(0) @binding(${i}) var<storage, ${b.write ? 'read_write' : 'read'}> ${b.name}: ${b.type ?? 'array<f32>'};`,
  );
  if (paramsStruct) lines.push(`@group(0) @binding(${bindings.length}) var<uniform> params: ${paramsStruct};`);
  return lines.join('\n');
}

/** The thread index `t` of a barrier-free kernel over `params.threads` threads on the
 * (x, z) grid. With subgroup broadcasts (`sg` > 0) every lane of a subgroup must reach
 * them: a subgroup wholly past the end returns, lanes past the end in a partial one run
 * on as the last thread, and `live` says whether a lane may store. */
export function threadEntry(wg: number, sg: number): string {
  return sg
    ? `  let t0 = (wid.z * nwg.x + wid.x) * ${wg}u + lid;
  let live = t0 < params.threads;
  if (subgroupAll(!live)) { return; }
  let t = min(t0, params.threads - 1u);`
    : `  let t = (wid.z * nwg.x + wid.x) * ${wg}u + lid;
  if (t >= params.threads) { return; }`;
}

/** The module header for subgroup kernels: subgroupAll's result is the same in every
 * lane, which WGSL's uniformity analysis does not know, so its diagnostic is off. */
export const subgroupHeader = (sg: number): string => (sg ? 'enable subgroups;\ndiagnostic(off, subgroup_uniformity);\n' : '');

/** Entry point of a 1-D kernel over `count` threads spread on a 2-D grid (a dimension
 * holds at most 65535 workgroups); `i` is the thread's linear index. */
export function main1d(body: string, wg = WG): string {
  return `
@compute @workgroup_size(${wg})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let i = (wid.y * nwg.x + wid.x) * ${wg}u + lid;
${body}
}`;
}

export function grid1d(threads: number, wg = WG): [number, number] {
  const groups = Math.ceil(threads / wg);
  if (groups === 0) return [0, 1];
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

/** 2-D grid for `groups` workgroups, each handling one item of a list. */
export function gridFor(groups: number): [number, number] {
  if (groups === 0) return [0, 1];
  const x = Math.min(groups, 65535);
  return [x, Math.ceil(groups / x)];
}

/** WGSL helper: entry d of an index array packed as vec4s. */
export const AT = `fn at(v: array<vec4u, 2>, d: u32) -> u32 { return v[d / 4u][d % 4u]; }
fn ati(v: array<vec4i, 2>, d: u32) -> i32 { return v[d / 4u][d % 4u]; }`;

export const MAX_RANK = 8;

/** Packs a uniform block: 4-byte scalars in order, then index arrays of MAX_RANK
 * entries (two vec4s each), 16-byte aligned as WGSL's uniform layout requires. */
export class UniformWriter {
  private words: number[] = [];
  private kinds: ('u' | 'i' | 'f')[] = [];

  u32(...vs: number[]): this {
    for (const v of vs) {
      this.words.push(v);
      this.kinds.push('u');
    }
    return this;
  }

  i32(...vs: number[]): this {
    for (const v of vs) {
      this.words.push(v);
      this.kinds.push('i');
    }
    return this;
  }

  f32(...vs: number[]): this {
    for (const v of vs) {
      this.words.push(v);
      this.kinds.push('f');
    }
    return this;
  }

  align16(): this {
    while (this.words.length % 4) this.u32(0);
    return this;
  }

  /** An index array (u32 or i32) padded to MAX_RANK entries, 16-byte aligned. */
  array(vs: readonly number[], signed = false): this {
    if (vs.length > MAX_RANK) throw new Error(`rank ${vs.length} exceeds ${MAX_RANK}`);
    this.align16();
    for (let i = 0; i < MAX_RANK; i++) {
      if (signed) this.i32(vs[i] ?? 0);
      else this.u32(vs[i] ?? 0);
    }
    return this;
  }

  finish(): ArrayBuffer {
    this.align16();
    const buf = new ArrayBuffer(this.words.length * 4);
    const view = new DataView(buf);
    this.words.forEach((w, i) => {
      const k = this.kinds[i];
      if (k === 'f') view.setFloat32(i * 4, w, true);
      else if (k === 'i') view.setInt32(i * 4, w, true);
      else view.setUint32(i * 4, w, true);
    });
    return buf;
  }
}

/** Constant-index access to entry `a` of a packed index array: SwiftShader runs uniform
 * arrays indexed at run time through a slow path, so rank-generic kernels unroll their
 * axis loops with the rank in the pipeline key. */
export const entry = (array: string, a: number): string => `${array}[${a >> 2}][${a & 3}]`;

/** The body for each axis from the last to the first, with its constant index. */
export function unrollAxes(rank: number, body: (a: number) => string): string {
  const out: string[] = [];
  for (let a = rank - 1; a >= 0; a--) out.push(body(a));
  return out.join('\n');
}
