import { describe, it, expect } from 'vitest';
import { Tensor, tidy, dual, type Dual, type Operand } from '../../engine/index.js';
import { Rng } from './random.js';
import { nd, axpy, type ND } from '../ref/ndarray.js';
import { FORWARD, JVP_VS_FD, expectClose, violation, type Tolerance } from './compare.js';

export interface InputSpec {
  shape: number[];
  /** values (default: standard normal) */
  init?: (rng: Rng, n: number) => Float64Array;
  /** constant operand (a weight): never carries a tangent */
  constant?: boolean;
}

export interface EdgeInput {
  shape: number[];
  values: number[];
}

/** A derivative convention at a kink, where no finite difference decides: exact inputs
 * on the kink, K tangent directions, and the convention's JVP in float64 (test/ref). */
export interface Convention {
  /** the convention in words, for failure messages */
  what: string;
  inputs: EdgeInput[];
  /** K directions, each one value array per non-constant input in input order */
  tangents: number[][][];
  /** the JVP under the convention; `vs` holds null for constant inputs */
  jvp: (xs: ND[], vs: (ND | null)[]) => ND;
}

/** One row of the op table: a GPU op and its float64 reference. */
export interface OpCase {
  name: string;
  inputs: InputSpec[];
  gpu: (xs: Operand[]) => Dual;
  ref: (xs: ND[]) => ND;
  /** extra input sets with edge values (0, negatives, large, ties) checked on the forward */
  edges?: EdgeInput[][];
  /** derivative conventions at kinks, checked on the JVP */
  conventions?: Convention[];
  forward?: Tolerance;
  jvp?: Tolerance;
  /** finite-difference step (float64 reference) */
  h?: number;
}

const K = 3;

function upload(x: ND): Tensor {
  return Tensor.fromData(Float32Array.from(x.data), x.shape);
}

async function readAll(t: Tensor): Promise<Float32Array> {
  const v = await t.read();
  return v;
}

/** Inputs for a case: seeded, f32-representable. */
export function makeInputs(c: OpCase, seed: number): ND[] {
  const rng = new Rng(seed);
  return c.inputs.map((s) => {
    const n = s.shape.reduce((a, b) => a * b, 1);
    return nd(s.shape, s.init ? s.init(rng, n) : rng.normals(n));
  });
}

/** Central difference of the float64 reference along tangents vs: (f(x+hv) - f(x-hv)) / 2h. */
export function finiteDifference(c: OpCase, xs: ND[], vs: (ND | null)[], h: number): ND {
  const plus = c.ref(xs.map((x, i) => (vs[i] ? axpy(x, h, vs[i]!) : x)));
  const minus = c.ref(xs.map((x, i) => (vs[i] ? axpy(x, -h, vs[i]!) : x)));
  return { shape: plus.shape, data: plus.data.map((p, i) => (p - minus.data[i]!) / (2 * h)) };
}

function stack(ts: ND[]): ND {
  const out = nd([ts.length, ...ts[0]!.shape]);
  ts.forEach((t, k) => out.data.set(t.data, k * t.data.length));
  return out;
}

/** Run `gpu` with K tangents per non-constant input; returns primal and per-k tangents. */
async function runGpu(c: OpCase, xs: ND[], tangents: ND[][] | null): Promise<{ primal: Float32Array; tangents: Float32Array[] }> {
  const out = tidy(() => {
    const operands = xs.map((x, i) => {
      const p = upload(x);
      if (!tangents || c.inputs[i]!.constant) return p;
      return dual(p, upload(stack(tangents.map((vs) => vs[i]!))));
    });
    return c.gpu(operands);
  });
  const primal = await readAll(out.primal);
  const t = out.tangents ? await readAll(out.tangents) : null;
  out.primal.dispose();
  out.tangents?.dispose();
  const per: Float32Array[] = [];
  if (t && tangents) {
    const n = primal.length;
    for (let k = 0; k < tangents.length; k++) per.push(t.subarray(k * n, (k + 1) * n));
  }
  return { primal, tangents: per };
}

/** The table's checks, one describe block per op. */
export function runOpTable(cases: OpCase[]): void {
  for (const [index, c] of cases.entries()) {
    describe(c.name, () => {
      const seed = 1000 + index * 17;
      const forwardTol = c.forward ?? FORWARD;
      const jvpTol = c.jvp ?? JVP_VS_FD;

      it('forward matches the float64 reference', async () => {
        const xs = makeInputs(c, seed);
        const want = c.ref(xs);
        const got = await runGpu(c, xs, null);
        expectClose(got.primal, want.data, forwardTol, `${c.name} forward`);
      });

      if (c.edges) {
        it('edge values match the reference', async () => {
          for (const [e, values] of c.edges!.entries()) {
            const xs = values.map((v) => nd(v.shape, v.values.map(Math.fround)));
            const want = c.ref(xs);
            const got = await runGpu(c, xs, null);
            expectClose(got.primal, want.data, forwardTol, `${c.name} edge set ${e}`);
          }
        });
      }

      if (c.conventions) {
        it('JVP at kinks follows the stated convention, which no finite difference gives there', async () => {
          for (const conv of c.conventions!) {
            const xs = conv.inputs.map((v) => nd(v.shape, v.values.map(Math.fround)));
            const vs = conv.tangents.map((dir) => {
              let next = 0;
              return xs.map((x, i) => (c.inputs[i]!.constant ? null : nd(x.shape, dir[next++]!.map(Math.fround))));
            });
            const got = await runGpu(c, xs, vs.map((v) => v.map((t, i) => t ?? nd(xs[i]!.shape))));
            // the inputs sit on the kink: one-sided differences of the reference along +v
            // and -v, and central ones, each disagree with the convention somewhere, so the
            // set pins the convention rather than a side
            const h = c.h ?? 1e-4;
            const base = c.ref(xs);
            const step = (w: (ND | null)[], s: number) =>
              c.ref(xs.map((x, i) => (w[i] ? axpy(x, s * h, w[i]!) : x))).data.map((p, j) => (s * (p - base.data[j]!)) / h);
            const unlike = { forward: false, backward: false, central: false };
            for (const [k, v] of vs.entries()) {
              const want = conv.jvp(xs, v);
              expectClose(got.tangents[k]!, want.data, forwardTol, `${c.name}: ${conv.what}, direction ${k}`);
              unlike.forward ||= violation(step(v, 1), want.data, jvpTol).ratio > 1;
              unlike.backward ||= violation(step(v, -1), want.data, jvpTol).ratio > 1;
              unlike.central ||= violation(finiteDifference(c, xs, v, h).data, want.data, jvpTol).ratio > 1;
            }
            expect(unlike, `${c.name}: a one-sided or central difference already agrees with "${conv.what}" on these inputs`).toEqual({ forward: true, backward: true, central: true });
          }
        });
      }

      it('JVP matches central differences; K tangents at once match K single runs and are linear', async () => {
        const xs = makeInputs(c, seed);
        const rng = new Rng(seed + 1);
        const dir = () => xs.map((x, i) => (c.inputs[i]!.constant ? null : nd(x.shape, rng.normals(x.data.length))));
        const v1 = dir();
        const v2 = dir();
        // third direction: 2 v1 - 0.5 v2, to check linearity
        const v3 = v1.map((v, i) => (v ? axpy(nd(v.shape, v.data.map((a) => Math.fround(2 * a))), -0.5, v2[i]!) : null));
        const vs = [v1, v2, v3];
        const asTangents = vs.map((v) => v.map((t, i) => t ?? nd(xs[i]!.shape)));
        const many = await runGpu(c, xs, asTangents);
        expect(many.tangents.length).toBe(K);
        const h = c.h ?? 1e-4;
        for (let k = 0; k < K; k++) {
          const fd = finiteDifference(c, xs, vs[k]!, h);
          expectClose(many.tangents[k]!, fd.data, jvpTol, `${c.name} JVP direction ${k}`);
        }
        const lin = many.tangents[0]!.map((a, i) => 2 * a - 0.5 * many.tangents[1]![i]!);
        expectClose(many.tangents[2]!, lin, { rtol: 1e-5, atol: 1e-5 }, `${c.name} JVP linearity`);
        for (let k = 0; k < K; k++) {
          const single = await runGpu(c, xs, [asTangents[k]!]);
          expectClose(single.tangents[0]!, many.tangents[k]!, { rtol: 1e-6, atol: 1e-6 }, `${c.name} K=${K} vs single ${k}`);
          expectClose(single.primal, many.primal, { rtol: 0, atol: 0 }, `${c.name} primal with tangents`);
        }
      });
    });
  }
}
