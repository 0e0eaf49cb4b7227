// Reference point for `lee bench`: timm's ResNet-50 (224x224, batch 1, random weights) in
// jax-js (@jax-js/jax 0.1.25) on WebGPU under Node (Dawn from the `webgpu` package). Measures
//   forward_ms: median of 3 jit-compiled forward passes (logits -> softmax),
//   lie10_ms:   median of 3 jit-compiled vmap(t => jvp(f, [x], [t])[1]) over 10 tangents,
// each after one warm-up (compile) call, with the output read back to the host.
// It checks that softmax sums to 1 and that the jvp matches a central finite difference.
// Whole run on 2 cores with lavapipe: ~2.5-4.5 min, mostly compiling the vmap(jvp) kernels.
//
// Not part of the project: CI never runs it and the repo gains no dependency. To run:
//   mkdir -p /tmp/jaxjs && cd /tmp/jaxjs && npm init -y && npm install @jax-js/jax@0.1.25
//   cd /tmp/jaxjs && node <this repo>/scripts/jaxjs_anchor.mjs
// (with VK_ICD_FILENAMES pointing at lavapipe's ICD file, as for `lee bench`, to compare on it)
// '@jax-js/jax' and 'webgpu' are resolved from the working directory first, then from this repo
// (whose node_modules has `webgpu`). Prints one JSON line. require.resolve picks jax-js's
// CommonJS build (dist/index.cjs), the same code as its ESM build.
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';

async function load(name) {
  for (const base of [process.cwd() + '/', new URL('../', import.meta.url)]) {
    let path;
    try {
      path = createRequire(base).resolve(name);
    } catch {
      continue;
    }
    return import(pathToFileURL(path).href);
  }
  throw new Error(`cannot resolve ${name}: run from a directory where it is installed`);
}

const { create, globals } = await load('webgpu');
const jax = await load('@jax-js/jax');
const { numpy: np, lax, nn, tree, jit, jvp, vmap } = jax;

// jax-js looks for `navigator.gpu` (and reads navigator.userAgent); Node 20 has no navigator.
// Same setup as engine/device.ts: Dawn's classes as globals, XDG_RUNTIME_DIR for quiet drivers.
process.env.XDG_RUNTIME_DIR ??= '/tmp';
Object.assign(globalThis, globals);
globalThis.navigator ??= {};
navigator.userAgent ??= `Node.js/${process.versions.node}`;
const gpu = create([]); // kept referenced: Dawn aborts if its instance is collected early
let adapter = null;
// jax-js only calls navigator.gpu.requestAdapter(); wrap it to keep the adapter for the report.
navigator.gpu = { requestAdapter: async (opts) => (adapter = await gpu.requestAdapter(opts)) };
if (!(await jax.init('webgpu')).includes('webgpu')) throw new Error('jax-js found no WebGPU adapter');
jax.defaultDevice('webgpu');

// Seeded host-side normals (mulberry32 + Box-Muller), so runs are reproducible and the
// finite-difference inputs can be formed exactly on the host.
let seed = 1234;
function uniform() {
  seed = (seed + 0x6d2b79f5) | 0;
  let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function randnHost(n, std = 1) {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const r = Math.sqrt(-2 * Math.log(1 - uniform())) * std, th = 2 * Math.PI * uniform();
    a[i] = r * Math.cos(th);
    if (i + 1 < n) a[i + 1] = r * Math.sin(th);
  }
  return a;
}
const size = (shape) => shape.reduce((a, b) => a * b, 1);
const randn = (shape, std = 1) => np.array(randnHost(size(shape), std)).reshape(shape);

// ---- timm resnet50 parameters: He-normal convs; BN eval stats beta=0 mean=0 var=1, gamma=1
// except 0.25 on each block's last BN. With gamma=1 there (timm zero-inits it instead) the
// activations roughly double per block, the softmax saturates to one-hot and its tangents
// underflow (~1e-22), which would make the finite-difference check vacuous. ----
const convW = (cout, cin, k) => randn([cout, cin, k, k], Math.sqrt(2 / (cin * k * k)));
const bnP = (c, g = 1) => ({ gamma: np.full([c], g), beta: np.zeros([c]), mean: np.zeros([c]), var: np.ones([c]) });
const STAGES = [[3, 64, 1], [4, 128, 2], [6, 256, 2], [3, 512, 2]]; // [blocks, width, stride]
const ARCH = []; // static per-block strides, kept out of the traced parameter tree
const P = { stem: { w: convW(64, 3, 7), bn: bnP(64) }, blocks: [] };
let cin = 64;
for (const [n, width, stride] of STAGES) {
  for (let i = 0; i < n; i++) {
    const s = i === 0 ? stride : 1, cout = width * 4;
    const b = { w1: convW(width, cin, 1), bn1: bnP(width), w2: convW(width, width, 3), bn2: bnP(width),
      w3: convW(cout, width, 1), bn3: bnP(cout, 0.25) };
    if (i === 0) b.down = { w: convW(cout, cin, 1), bn: bnP(cout) }; // projection shortcut
    P.blocks.push(b);
    ARCH.push(s);
    cin = cout;
  }
}
P.fc = { w: randn([2048, 1000], Math.sqrt(1 / 2048)), b: np.zeros([1000]) };

// ---- forward (jax-js arrays are reference counted: every use consumes, `.ref` keeps one) ----
const conv = (x, w, s, p) => lax.convGeneralDilated(x, w, [s, s], [[p, p], [p, p]]);
function batchNorm(x, { gamma, beta, mean, var: v }) {
  // eval-mode BN as its own per-channel scale/shift op (not folded into the conv weights)
  const scale = gamma.div(np.sqrt(v.add(1e-5)));
  const shift = beta.sub(mean.mul(scale.ref));
  return x.mul(scale.reshape([-1, 1, 1])).add(shift.reshape([-1, 1, 1]));
}
function maxPool3x3s2(x) {
  // lax.reduceWindow would be the natural choice, but jax-js 0.1.25 has no vmap rule for its
  // `pool` primitive, and slices cannot be strided; so take the 3-wide, stride-2 max along H,
  // then W, from -inf-padded rows 2i, 2i+1 (reshape [o, 2] of rows 0..2o) and 2i+2 (rows 2..).
  for (const axis of [2, 3]) {
    const edge = x.shape.map((d, i) => (i === axis ? 1 : d));
    x = np.concatenate([np.full(edge, -Infinity), x, np.full(edge, -Infinity)], axis);
    const o = (x.shape[axis] - 1) >> 1;
    const pairs = (start) => {
      const sl = x.shape.map((_, i) => (i === axis ? [start, start + 2 * o] : []));
      const shape = x.shape.toSpliced(axis, 1, o, 2);
      return x.ref.slice(...sl).reshape(shape);
    };
    const at = (a, k) => a.slice(...a.shape.map((_, i) => (i === axis + 1 ? k : [])));
    const a = pairs(0), b = pairs(2);
    x.dispose();
    x = np.maximum(np.maximum(at(a.ref, 0), at(a, 1)), at(b, 0));
  }
  return x;
}
function bottleneck(x, b, s) {
  const shortcut = b.down ? batchNorm(conv(x.ref, b.down.w, s, 0), b.down.bn) : x.ref;
  let y = nn.relu(batchNorm(conv(x, b.w1, 1, 0), b.bn1));
  y = nn.relu(batchNorm(conv(y, b.w2, s, 1), b.bn2)); // timm: stride on the 3x3
  y = batchNorm(conv(y, b.w3, 1, 0), b.bn3);
  return nn.relu(y.add(shortcut));
}
function resnet50(p, x) {
  x = maxPool3x3s2(nn.relu(batchNorm(conv(x, p.stem.w, 2, 3), p.stem.bn)));
  p.blocks.forEach((b, i) => (x = bottleneck(x, b, ARCH[i])));
  const feat = x.mean([2, 3]); // global average pool -> [1, 2048]
  return nn.softmax(np.dot(feat, p.fc.w).add(p.fc.b), -1);
}

const K = 10, X_SHAPE = [1, 3, 224, 224];
const forward = jit((p, x) => resnet50(p, x));
// Ten Lie derivatives in one call: vmap over the tangents of jvp at the same primal point.
const lie10 = jit((p, x, ts) =>
  vmap((t) => {
    const [y, ydot] = jvp((xx) => resnet50(p, xx), [x], [t]);
    y.dispose();
    return ydot;
  })(ts),
);

const xHost = randnHost(size(X_SHAPE)), tHost = randnHost(K * size(X_SHAPE));
const x = np.array(xHost).reshape(X_SHAPE), ts = np.array(tHost).reshape([K, ...X_SHAPE]);
const runForward = (xArr) => forward(tree.ref(P), xArr).data();
const runLie = () => lie10(tree.ref(P), x.ref, ts.ref).data();

async function median3(run) {
  const first = await run(); // warm-up: tracing + kernel compilation
  const ms = [];
  for (let i = 0; i < 3; i++) {
    const t0 = performance.now();
    await run();
    ms.push(performance.now() - t0);
  }
  return { first, ms: ms.sort((a, b) => a - b)[1], runs: ms.map((t) => +t.toFixed(1)) };
}
const fwd = await median3(() => runForward(x.ref));
const lie = await median3(runLie);

// Checks: softmax sums to 1; tangent 0 vs (f(x + h t0) - f(x - h t0)) / 2h. ReLU kinks crossed
// within +-h dominate the error at h = 1e-2, so h = 1e-3 is reported too (float32 copes).
const sum = fwd.first.reduce((a, b) => a + b, 0);
async function fdRelErr(h) {
  const xp = new Float32Array(xHost), xm = new Float32Array(xHost);
  for (let i = 0; i < xHost.length; i++) (xp[i] += h * tHost[i]), (xm[i] -= h * tHost[i]);
  const fp = await runForward(np.array(xp).reshape(X_SHAPE)), fm = await runForward(np.array(xm).reshape(X_SHAPE));
  let num = 0, den = 0;
  for (let i = 0; i < 1000; i++) {
    num += ((fp[i] - fm[i]) / (2 * h) - lie.first[i]) ** 2;
    den += lie.first[i] ** 2;
  }
  return +Math.sqrt(num / den).toExponential(2);
}
const fd = { h1e2: await fdRelErr(1e-2), h1e3: await fdRelErr(1e-3) };
if (Math.abs(sum - 1) > 1e-3 || !(Math.min(fd.h1e2, fd.h1e3) < 0.05)) {
  console.error(`check failed: softmax sum ${sum}, finite-difference relative errors ${JSON.stringify(fd)}`);
  process.exit(1);
}

const info = adapter.info;
console.log(JSON.stringify({
  model: 'resnet50', size: 224, backend: 'jax-js 0.1.25 webgpu (Dawn/node)',
  adapter: [info.vendor, info.architecture, info.device, info.description].filter(Boolean).join(' / '),
  forward_ms: +fwd.ms.toFixed(1), lie10_ms: +lie.ms.toFixed(1), ratio: +(lie.ms / fwd.ms).toFixed(2),
  forward_runs_ms: fwd.runs, lie10_runs_ms: lie.runs,
  method: 'vmap(jvp)', softmax_sum: +sum.toFixed(6), max_prob: +Math.max(...fwd.first).toFixed(4), fd_rel_err: fd,
}));
process.exit(0); // Dawn's instance would otherwise keep the event loop alive
