import { describe, it, expect } from 'vitest';
import { parseCheckpointConfig } from '../models/checkpoint.js';
import { LeeError } from '../engine/errors.js';

/** timm/resnet50.a1_in1k's config.json as the hub serves it (save_config_for_hf). */
const RESNET50_A1 = {
  architecture: 'resnet50',
  num_classes: 1000,
  num_features: 2048,
  global_pool: 'avg',
  pretrained_cfg: {
    tag: 'a1_in1k',
    custom_load: false,
    input_size: [3, 224, 224],
    test_input_size: [3, 288, 288],
    fixed_input_size: false,
    interpolation: 'bicubic',
    crop_pct: 0.95,
    test_crop_pct: 1.0,
    crop_mode: 'center',
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    num_classes: 1000,
    pool_size: [7, 7],
    first_conv: 'conv1',
    classifier: 'fc',
  },
};

const parse = (v: unknown) => parseCheckpointConfig(JSON.stringify(v), 'x/config.json');

describe('timm config.json', () => {
  it('gives the architecture, tag, classes and eval preprocessing', () => {
    expect(parse(RESNET50_A1)).toEqual({
      architecture: 'resnet50',
      tag: 'a1_in1k',
      numClasses: 1000,
      preprocess: { inputSize: [3, 224, 224], cropPct: 0.95, cropMode: 'center', interpolation: 'bicubic', mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
    });
  });

  it('reads label_names (a list, or a dict in index order) and model_args.num_heads', () => {
    const c = parse({ ...RESNET50_A1, num_classes: 2, label_names: ['cat', 'dog'], model_args: { num_heads: 3, img_size: 32 } });
    expect(c.labelNames).toEqual(['cat', 'dog']);
    expect(c.numHeads).toBe(3);
    // a dict maps class index -> name, with gaps where classes have none
    expect(parse({ ...RESNET50_A1, label_names: { 0: 'tench', 2: 'goldfish' } }).labelNames).toEqual(['tench', '1', 'goldfish']);
    expect(() => parse({ ...RESNET50_A1, label_names: { tench: 0 } })).toThrow(/label_names must be/);
  });

  it("reads the older layout timm's loader still accepts: the file is the pretrained_cfg", () => {
    const c = parse({ architecture: 'vit_small_patch16_224.augreg_in21k_ft_in1k', num_classes: 5, labels: ['a', 'b', 'c', 'd', 'e'], input_size: [3, 384, 384], crop_pct: 1.0, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(c.architecture).toBe('vit_small_patch16_224');
    expect(c.tag).toBe('augreg_in21k_ft_in1k');
    expect(c.labelNames).toHaveLength(5);
    expect(c.preprocess).toEqual({ inputSize: [3, 384, 384], cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  });

  it('fails with one clear line on what it cannot use', () => {
    const bad: [unknown, RegExp][] = [
      [{ num_classes: 3 }, /names no architecture/],
      [{ ...RESNET50_A1, pretrained_cfg: { ...RESNET50_A1.pretrained_cfg, input_size: [3, 224, 160] } }, /input_size \[3, 224, 160\] is not supported/],
      [{ ...RESNET50_A1, pretrained_cfg: { ...RESNET50_A1.pretrained_cfg, interpolation: 'nearest' } }, /interpolation 'nearest' is not supported/],
      [{ ...RESNET50_A1, pretrained_cfg: { ...RESNET50_A1.pretrained_cfg, crop_mode: 'zoom' } }, /crop_mode must be/],
      [{ ...RESNET50_A1, pretrained_cfg: { ...RESNET50_A1.pretrained_cfg, mean: [0.5, 0.5] } }, /mean must be a list of 3 numbers/],
      [{ ...RESNET50_A1, num_classes: -1 }, /num_classes must be/],
      [{ ...RESNET50_A1, model_args: { num_heads: 0 } }, /num_heads must be a positive integer/],
      [[1, 2], /not a timm config/],
    ];
    for (const [v, re] of bad) expect(() => parse(v)).toThrow(re);
    expect(() => parseCheckpointConfig('{"architecture": ', 'x/config.json')).toThrow(LeeError);
    expect(() => parseCheckpointConfig('{"architecture": ', 'x/config.json')).toThrow(/x\/config.json is not valid JSON/);
  });
});
