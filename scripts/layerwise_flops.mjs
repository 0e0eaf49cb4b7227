// The convolution and Linear FLOPs a layerwise attribution must spend, in forward passes:
// each layer that is not exactly equivariant starts a tangent slot at its output, and a
// slot costs the layers after it, so the work is sum over conv/Linear layers of
// FLOPs(layer) x (slots alive there), against FLOPs of one forward. On an adapter where a
// tangent costs per image what the forward does (CPU drivers), that is the floor of
// `lee bench --layerwise`'s ratio, before the passes' own forwards.
// Run after `npm run build`: node scripts/layerwise_flops.mjs [model] [transform] [size]
import { init, shutdown } from '../dist/engine/runtime.js';
import { Tensor } from '../dist/engine/tensor.js';
import { Rng } from '../dist/engine/random.js';
import { layerwise } from '../dist/lee/layerwise.js';
import { namedModules } from '../dist/models/module.js';
import { loadModel, planModel } from '../dist/cli/inputs.js';

const [arch = 'resnet50', transform = 'translate_x', size = '224'] = process.argv.slice(2);
const plan = await planModel({ arch });
await init();
const model = loadModel(plan);
const modules = new Map(namedModules(model));
const s = Number(size);
const x = Tensor.fromData(Float32Array.from(new Rng(1).normals(3 * s * s)), [1, 3, s, s]);
const r = await layerwise(model, x, { transform });
const numel = (shape) => shape.reduce((a, b) => a * b, 1);
let forward = 0;
let tangents = 0;
let alive = 0;
for (const l of r.layers) {
  if (!l.zero) alive++;
  const m = modules.get(l.name.replace(/#\d+$/, ''));
  const w = m?.weight?.shape;
  if (!w || !(l.type === 'Conv2d' || l.type === 'Linear')) continue;
  const flops = 2 * numel(l.outShape) * (w.length === 4 ? w[1] * w[2] * w[3] : w[1]);
  forward += flops;
  tangents += flops * alive;
}
console.log(JSON.stringify({
  model: arch, transform, size: s, layers: r.layers.length, active: alive,
  forward_gflop: +(forward / 1e9).toFixed(2), tangent_gflop: +(tangents / 1e9).toFixed(1),
  forward_passes: +(tangents / forward).toFixed(1),
}));
x.dispose();
await shutdown();
process.exit(0);
