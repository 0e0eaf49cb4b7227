import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { HostTensor } from '../../engine/safetensors.js';
import { nameModules, namedParams, type Module } from '../../models/module.js';
import type { ModelSpec } from '../../models/spec.js';
import { FIXTURES, fixtures, leafModules, type Fixture } from './parity.js';

/** A model fixture with the manifest's leaf modules: those the forward calls, in call
 * order, and the names of those it never calls (EfficientNet's drop_path slots of blocks
 * without a shortcut). */
export type FamilyFixture = Fixture & { leaf_modules: { name: string; type: string }[]; uncalled_leaf_modules: string[] };

interface Manifest {
  fixtures: FamilyFixture[];
  preprocessing: Record<string, { input_size: number[]; crop_pct: number; interpolation: string; mean: number[]; std: number[] } | null>;
}
const manifest = () => JSON.parse(readFileSync(`${FIXTURES}manifest.json`, 'utf8')) as Manifest;

/** The model fixtures of `specs`' architectures. */
export function familyFixtures(specs: readonly ModelSpec[]): FamilyFixture[] {
  const names = new Set(specs.map((s) => s.name));
  return fixtures((f) => names.has(f.arch)) as FamilyFixture[];
}

/** The module tree spells the fixture's state_dict keys (and shapes, through the build's
 * check) and timm's leaf modules: every called one with its type, and the uncalled ones. */
export function expectTimmLeaves(model: Module, weights: Map<string, HostTensor>, f: FamilyFixture): void {
  nameModules(model);
  const keys = [...weights.keys()].filter((k) => !k.endsWith('num_batches_tracked'));
  expect([...namedParams(model).keys()].sort()).toEqual(keys.sort());
  for (const [k, p] of namedParams(model)) expect(p.shape, k).toEqual(weights.get(k)!.shape);
  const ours = leafModules(model);
  const called = f.leaf_modules.map((l) => `${l.name} ${l.type}`);
  expect(ours.filter((l) => !f.uncalled_leaf_modules.includes(l.split(' ')[0]!)).sort()).toEqual([...new Set(called)].sort());
  expect(ours.map((l) => l.split(' ')[0]!).filter((n) => f.uncalled_leaf_modules.includes(n)).sort()).toEqual([...f.uncalled_leaf_modules].sort());
}

/** Every spec's preprocessing is timm 0.9.16's eval config of its default tag. */
export function expectTimmPreprocessing(specs: readonly ModelSpec[]): void {
  const pre = manifest().preprocessing;
  for (const spec of specs) {
    const want = pre[spec.name];
    expect(want, `${spec.name} in the manifest`).toBeTruthy();
    expect(spec.preprocess, spec.name).toEqual({
      inputSize: want!.input_size,
      cropPct: want!.crop_pct,
      interpolation: want!.interpolation,
      mean: want!.mean,
      std: want!.std,
    });
  }
}
