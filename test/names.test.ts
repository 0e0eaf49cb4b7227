import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { LeeError } from '../engine/errors.js';
import { namedParams } from '../models/module.js';
import { MODELS, architectureOf, modelSpec } from '../models/registry.js';
import { CORE_MODELS, deprecatedNames, resolveName } from '../models/names.js';
import type { Preprocess } from '../models/spec.js';

// The paper's 83 `core_models` names against timm 0.9.16 (scripts/gen_name_fixtures.py):
// what each resolves to, its eval preprocessing, and the exact state_dict keys and shapes
// of timm.create_model(<that name>). Host only: modules are built, never run.
const FIXTURE = fileURLToPath(new URL('./fixtures/names/core_models.json.gz', import.meta.url));

interface NameEntry {
  name: string;
  timm: string;
  arch: string;
  tag: string;
  state_dict: string;
  input_size: [number, number, number];
  crop_pct: number;
  crop_mode: string;
  interpolation: string;
  norm: 'IMAGENET' | 'INCEPTION' | 'ZERO_ONE' | 'CLIP';
  num_classes: number;
}
const fixture = JSON.parse(gunzipSync(readFileSync(FIXTURE)).toString('utf8')) as {
  names: NameEntry[];
  state_dicts: Record<string, [string, number[]][]>;
};
const entries = fixture.names;
const supported = entries.filter((e) => architectureOf(e.name) !== undefined);
const missing = entries.filter((e) => architectureOf(e.name) === undefined);

const NORMS = {
  IMAGENET: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  INCEPTION: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  ZERO_ONE: { mean: [0, 0, 0], std: [1, 1, 1] },
  CLIP: { mean: [0.48145466, 0.4578275, 0.40821073], std: [0.26862954, 0.26130258, 0.27577711] },
};

/** The fixture entry's preprocessing as lee-gpu spells it. */
function expected(e: NameEntry): Preprocess {
  const p: Preprocess = { inputSize: e.input_size, cropPct: e.crop_pct, interpolation: e.interpolation as Preprocess['interpolation'], ...NORMS[e.norm] } as Preprocess;
  if (e.crop_mode !== 'center') p.cropMode = e.crop_mode as Preprocess['cropMode'];
  return p;
}

describe("the paper's core_models sweep (83 names)", () => {
  it('lists the same 83 names as the fixture, in the paper order', () => {
    expect(CORE_MODELS).toEqual(entries.map((e) => e.name));
    expect(new Set(CORE_MODELS).size).toBe(83);
  });

  it('every name resolves to the timm 0.9 architecture and tag the fixture names', () => {
    for (const e of entries) {
      const r = resolveName(e.name);
      expect(r, e.name).toBeDefined();
      expect(`${r!.arch}.${r!.tag}`, e.name).toBe(e.timm);
      expect(r!.numClasses, e.name).toBe(e.num_classes);
    }
  });

  for (const e of supported) {
    it(`${e.name} (${e.timm}): timm's state_dict keys and shapes, and its eval preprocessing`, () => {
      const spec = modelSpec(e.name);
      const params = namedParams(spec.build());
      const ours = [...params].map(([k, p]) => `${k} [${p.shape.join(', ')}]`).sort();
      const timm = fixture.state_dicts[e.state_dict]!.map(([k, s]) => `${k} [${s.join(', ')}]`).sort();
      const extra = ours.filter((k) => !timm.includes(k));
      const absent = timm.filter((k) => !ours.includes(k));
      expect({ extra, absent }, `${e.name}: keys only we have / only timm has`).toEqual({ extra: [], absent: [] });
      expect(spec.preprocess, e.name).toEqual(expected(e));
    });
  }

  // Lists what is missing until every family is in (the sweep's coverage, as
  // `lee models --sweep core` reports it).
  it('all 83 names are supported', () => {
    const list = missing.map((e) => `${e.name} (${e.timm})`);
    expect(list, `${missing.length} of 83 names not supported yet`).toEqual([]);
  });
});

describe('model names', () => {
  it("a registered architecture's preprocessing is its default tag's", () => {
    for (const spec of MODELS) {
      const r = resolveName(spec.name);
      if (r) expect(spec.preprocess, spec.name).toEqual(r.preprocess);
    }
  });

  it('timm 0.6 names, arch.tag names and bare architectures run the same architecture with their own preprocessing', () => {
    expect(architectureOf('resnet50.tv_in1k')).toBe('resnet50');
    expect(architectureOf('gluon_resnet50_v1b')).toBe('resnet50');
    expect(modelSpec('gluon_resnet50_v1b').preprocess).toEqual(modelSpec('resnet50.gluon_in1k').preprocess);
    expect(architectureOf('convnext_tiny_in22ft1k')).toBe('convnext_tiny');
    expect(modelSpec('tv_resnet50').preprocess).toEqual(modelSpec('resnet50.tv_in1k').preprocess);
    expect(modelSpec('tv_resnet50').preprocess).toMatchObject({ cropPct: 0.875, interpolation: 'bilinear' });
    expect(modelSpec('resnet50').preprocess).toMatchObject({ cropPct: 0.95, interpolation: 'bicubic' });
    expect(modelSpec('convnext_tiny_in22ft1k').name).toBe('convnext_tiny_in22ft1k');
    expect(modelSpec('convnext_tiny_in22ft1k').preprocess.cropPct).toBe(0.875);
    expect(modelSpec('convnext_tiny').preprocess.cropPct).toBe(0.95);
    expect(modelSpec('vit_base_patch16_384').preprocess.inputSize).toEqual([3, 384, 384]);
    expect(modelSpec('inception_v3.gluon_in1k').preprocess.mean).toEqual([0.485, 0.456, 0.406]);
    expect(modelSpec('inception_v3').preprocess).toMatchObject({ inputSize: [3, 299, 299], mean: [0.5, 0.5, 0.5] });
  });

  it("every timm 0.6 name in the table resolves to a tag timm 0.9 has", () => {
    for (const [old, target] of deprecatedNames()) {
      const r = resolveName(old);
      expect(r, old).toBeDefined();
      expect(target.includes('.') ? r!.timm : r!.arch, old).toBe(target);
    }
  });

  it('an unknown name or tag is a clear error', () => {
    expect(() => modelSpec('resnet50.no_such_tag')).toThrow(LeeError);
    expect(() => modelSpec('resnet50.no_such_tag')).toThrow(/no tag 'no_such_tag' for resnet50 \(its tags: a1_in1k, /);
    expect(() => modelSpec('not_a_model')).toThrow(/unknown model 'not_a_model'/);
    expect(architectureOf('not_a_model')).toBeUndefined();
  });
});
