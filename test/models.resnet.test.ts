import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { runtime, Tensor, tidy, dual, dispose, LeeError, type Dual } from '../engine/index.js';
import { withoutFolding } from '../models/fold.js';
import { withLayerHook } from '../models/hooks.js';
import { loadSafetensors, type HostTensor } from '../engine/safetensors.js';
import { createModel, modelSpec, parameterCount } from '../models/registry.js';
import { disposeWeights, nameModules, namedModules, namedParams, Module } from '../models/module.js';
import { BatchNorm2d, BlurPool2d, ReLU } from '../models/layers.js';
import { resnetSpecs } from '../models/resnet.js';
import { FIXTURES, fixtures, runParity, type Fixture } from './helpers/parity.js';
import { expectFullSizeLogits } from './helpers/fullsize.js';

const RESNETS = new Set(resnetSpecs.map((s) => s.name));
const resnetFixtures = fixtures((f) => RESNETS.has(f.arch));

interface LeafRecord {
  name: string;
  type: string;
}

// One runtime for the whole file (runParity opens and closes it): pipelines compile
// slowly on software adapters, and the later tests reuse the fixtures' kernels.
/** resnet50_mini with its fixture input and one tangent, and how many passes folding
 * removes: its BatchNorms, every ReLU straight after a conv + BatchNorm (run in the
 * conv's epilogue), and each block's residual add and act3 (run in conv3's epilogue). */
async function foldingFixture() {
  const weights = (await loadSafetensors(`${FIXTURES}resnet50_mini.safetensors`)).tensors;
  const io = (await loadSafetensors(`${FIXTURES}resnet50_mini.io.safetensors`)).tensors;
  const model = createModel('resnet50', weights);
  const norms = namedModules(model).filter(([, m]) => m instanceof BatchNorm2d).length;
  // act1 / act2 fuse into their convolution's epilogue, the residual add and act3 into conv3's
  const fusedRelus = namedModules(model).filter(([n, m]) => m instanceof ReLU && !n.endsWith('act3')).length;
  const addRelus = namedModules(model).filter(([n, m]) => m instanceof ReLU && n.endsWith('act3')).length;
  const x = Tensor.fromData(io.get('input')!.data, io.get('input')!.shape);
  const t = Tensor.fromData(io.get('tangent')!.data, [1, ...io.get('tangent')!.shape]);
  return { model, norms, fusedRelus, addRelus, x, t };
}

describe('ResNet family', () => {
  it('covers every ResNet fixture', () => {
    expect(resnetFixtures.map((f) => f.name).sort()).toEqual(
      ['resnet18_mini', 'resnet50_mini', 'resnetblur18_mini', 'resnetblur50_mini', 'wide_resnet50_2_mini', 'resnet50d_mini', 'resnetrs_mini'].sort(),
    );
  });
  runParity(resnetFixtures);

  describe('structure (no GPU)', () => {
    const weightsOf = async (f: Fixture) => (await loadSafetensors(`${FIXTURES}${f.weights}`)).tensors;

    it.each(resnetFixtures.map((f) => [f.name, f] as const))('%s: leaf modules carry timm names and types', async (_, f) => {
      const model = modelSpec(f.arch).build(await weightsOf(f));
      nameModules(model);
      const leaves = namedModules(model)
        .filter(([, m]) => !m.entries().some(([, v]) => v instanceof Module))
        .map(([name, m]) => `${name}:${m.type}`)
        .sort();
      const manifest = JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as {
        fixtures: (Fixture & { leaf_modules: LeafRecord[]; uncalled_leaf_modules: LeafRecord[] })[];
      };
      const entry = manifest.fixtures.find((m) => m.name === f.name)!;
      const want = [...entry.leaf_modules, ...entry.uncalled_leaf_modules].map((l) => `${l.name}:${l.type}`);
      expect(leaves).toEqual([...new Set(want)].sort());
    });

    // torchvision / timm parameter counts (parameters only; BN running statistics are buffers)
    it.each([
      ['resnet18', 11_689_512],
      ['resnet34', 21_797_672],
      ['resnet50', 25_557_032],
      ['resnet101', 44_549_160],
      ['resnet152', 60_192_808],
      ['wide_resnet50_2', 68_883_240],
      ['resnetblur18', 11_689_512],
      ['resnetblur50', 25_557_032],
      ['tv_resnet34', 21_797_672],
      ['tv_resnet50', 25_557_032],
      ['tv_resnet101', 44_549_160],
      ['tv_resnet152', 60_192_808],
      ['wide_resnet101_2', 126_886_696],
      // ResNet-D: deep stem, average-pool shortcuts; ResNet-RS: + conv stem pool, SE 1/4
      ['resnet50d', 25_576_264],
      ['resnet101d', 44_568_392],
      ['resnet152d', 60_212_040],
      ['resnetrs101', 63_618_696],
      ['resnetrs152', 86_621_576],
    ] as const)('%s default config has %i parameters', (name, count) => {
      expect(parameterCount(modelSpec(name).build())).toBe(count);
    });

    it('blur filters are not state_dict entries', () => {
      const model = modelSpec('resnetblur50').build();
      nameModules(model);
      const blurs = namedModules(model).filter(([, m]) => m instanceof BlurPool2d).map(([n]) => n);
      expect(blurs).toEqual(['maxpool.1', 'layer2.0.aa', 'layer3.0.aa', 'layer4.0.aa']);
      expect([...namedParams(model).keys()].filter((k) => k.includes('aa') || k.startsWith('maxpool'))).toEqual([]);
    });

    it('every default preprocessing is timm 0.9.16 eval config', () => {
      const manifest = JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as {
        preprocessing: Record<string, { input_size: number[]; crop_pct: number; interpolation: string; mean: number[]; std: number[] }>;
      };
      for (const spec of resnetSpecs) {
        const want = manifest.preprocessing[spec.name]!;
        expect(spec.preprocess, spec.name).toEqual({
          inputSize: want.input_size,
          cropPct: want.crop_pct,
          interpolation: want.interpolation,
          mean: want.mean,
          std: want.std,
        });
      }
    });
  });

  describe('loading and running', () => {
    let dir = '';
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), 'lee-resnet-'));
    });
    afterAll(() => {
      rmSync(dir, { recursive: true, force: true });
    });

    it('a truncated weights file is a LeeError', async () => {
      const bytes = readFileSync(`${FIXTURES}resnet18_mini.safetensors`);
      const path = join(dir, 'truncated.safetensors');
      writeFileSync(path, bytes.subarray(0, Math.floor(bytes.length / 2)));
      await expect(loadSafetensors(path)).rejects.toThrow(LeeError);
    });

    it("another architecture's weights list the missing and unexpected keys", async () => {
      const weights = (await loadSafetensors(`${FIXTURES}resnet50_mini.safetensors`)).tensors;
      let caught: unknown;
      try {
        createModel('resnet18', weights, 'resnet50_mini.safetensors');
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(LeeError);
      const message = (caught as LeeError).message;
      expect(message).toContain('resnet50_mini.safetensors');
      expect(message).toMatch(/unexpected keys \(\d+\): .*layer1\.0\.conv3\.weight/);
      expect(message).toMatch(/mis-shaped .*layer1\.0\.conv1\.weight: file has \[24, 64, 1, 1\], model expects \[24, 64, 3, 3\]/);
    });

    it('weights of another family list what is missing', async () => {
      const weights = (await loadSafetensors(`${FIXTURES}vit_mini.safetensors`)).tensors;
      expect(() => createModel('resnet50', weights, 'vit_mini.safetensors')).toThrow(/missing keys \(\d+\): conv1\.weight/);
    });

    it('a mis-shaped tensor names the key and both shapes', async () => {
      const weights = (await loadSafetensors(`${FIXTURES}resnet18_mini.safetensors`)).tensors;
      const bad = new Map<string, HostTensor>(weights);
      const w = weights.get('layer2.1.conv2.weight')!;
      // same element count, wrong layout: only the shape check can catch it
      bad.set('layer2.1.conv2.weight', { ...w, shape: [w.shape[0]!, w.shape[1]!, 9, 1] });
      expect(() => createModel('resnet18', bad)).toThrow(LeeError);
      expect(() => createModel('resnet18', bad)).toThrow(
        /layer2\.1\.conv2\.weight: file has \[48, 48, 9, 1\], model expects \[48, 48, 3, 3\]/,
      );
    });

    it('a missing tensor is named', async () => {
      const weights = new Map((await loadSafetensors(`${FIXTURES}resnetblur18_mini.safetensors`)).tensors);
      weights.delete('layer3.0.bn2.running_var');
      expect(() => createModel('resnetblur18', weights)).toThrow(/missing keys \(1\): layer3\.0\.bn2\.running_var/);
    });

    it('memory stays flat across forwards and model lifetimes (blur filters and folded weights are made once)', async () => {
      const weights = (await loadSafetensors(`${FIXTURES}resnetblur18_mini.safetensors`)).tensors;
      const io = (await loadSafetensors(`${FIXTURES}resnetblur18_mini.io.safetensors`)).tensors;
      const lifetime = async () => {
        const model = createModel('resnetblur18', weights);
        const x = Tensor.fromData(io.get('input')!.data, io.get('input')!.shape);
        const t = Tensor.fromData(io.get('tangent')!.data, [1, ...io.get('tangent')!.shape]);
        const forward = async () => {
          const out = tidy(() => model.forward(dual(x, t)));
          await out.tangents!.read();
          out.primal.dispose();
          out.tangents!.dispose();
          return runtime().pool.liveCount;
        };
        // the first forward may upload the shared blur filters (the folded convs were made
        // with the weights); later ones allocate nothing
        const live = await forward();
        expect(await forward()).toBe(live);
        disposeWeights(model);
        x.dispose();
        t.dispose();
        // the weights, the two inputs and whatever was made from the weights are freed
        expect(runtime().pool.liveCount).toBeLessThanOrEqual(live - namedParams(model).size - 2);
        return runtime().pool.liveCount;
      };
      const after = await lifetime();
      expect(await lifetime()).toBe(after);
    });

    it('folding runs no BatchNorm pass and no ReLU pass after one: every conv + BatchNorm (+ ReLU) is one dispatch (two with tangents) once folded', async () => {
      const { model, norms, fusedRelus, addRelus, x, t } = await foldingFixture();
      const count = async (run: () => Dual) => {
        const before = runtime().dispatches;
        const out = tidy(run);
        await out.primal.read();
        dispose(out);
        return runtime().dispatches - before;
      };
      const forward = () => model.forward(dual(x, t));
      await count(forward); // compiles the pipelines
      const folded = await count(forward);
      const unfolded = await count(() => withoutFolding(forward));
      // a BatchNorm pass is one dispatch for the value and one for the tangents, a ReLU
      // one for both, and so is the residual add
      expect(addRelus).toBeGreaterThan(0);
      expect(unfolded - folded).toBe(2 * norms + fusedRelus + 2 * addRelus);
      disposeWeights(model);
      x.dispose();
      t.dispose();
    });

    it('under a layer hook only the watched layers stay unfolded, with the same values', async () => {
      const { model, norms, fusedRelus, addRelus, x, t } = await foldingFixture();
      const run = async (watch?: string[]) => {
        const seen: string[] = [];
        const before = runtime().dispatches;
        const out = tidy(() => withLayerHook(model, (call, fn, h) => (seen.push(call.name), fn(h)), () => model.forward(dual(x, t)), watch));
        const values = [await out.primal.read(), await out.tangents!.read()];
        dispose(out);
        return { seen, values, dispatches: runtime().dispatches - before };
      };
      await run(); // compiles the pipelines
      const all = await run();
      const some = await run(['layer1.0.conv2']);
      expect(all.seen).toContain('layer1.0.bn1');
      expect(some.seen).toContain('layer1.0.conv2');
      expect(some.seen).toContain('layer1.0.bn2');
      expect(some.seen).not.toContain('layer1.0.conv1');
      expect(some.seen).not.toContain('layer1.0.bn1');
      // every other conv + BatchNorm pair folded, and the ReLUs after them fused: no
      // BatchNorm or ReLU pass for value or tangents (layer1.0.act2 follows the watched conv)
      expect(some.seen).toContain('layer1.0.act2');
      expect(some.seen).not.toContain('layer1.0.act1');
      expect(some.seen).not.toContain('layer1.0.act3');
      expect(all.dispatches - some.dispatches).toBe(2 * (norms - 1) + fusedRelus - 1 + 2 * addRelus);
      all.values.forEach((v, i) => {
        const scale = Math.max(...v.map(Math.abs));
        v.forEach((a, j) => expect(Math.abs(a - some.values[i]![j]!)).toBeLessThan(1e-5 * scale));
      });
      disposeWeights(model);
      x.dispose();
      t.dispose();
    });

    it('full-size resnet50 at 224 px matches timm on seeded random weights', async () => {
      await expectFullSizeLogits('resnet50');
    });
  });
});
