import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { init, shutdown } from '../engine/index.js';
import { expectLayerwiseParity, layerwiseFixtures } from './helpers/layerwise.js';
import { inSharedFiles } from './helpers/lie.js';

// Layerwise contributions against scripts/gen_layerwise_fixtures.py (test/helpers/layerwise.ts):
// every fixture but those of the families with their own file (FAMILY_FILES in test/helpers/lie.ts).
const fixtures = layerwiseFixtures((f) => inSharedFiles(f.arch));

beforeAll(async () => {
  await init();
});
afterAll(async () => {
  await shutdown();
});

describe('layerwise attribution against PyTorch forward mode (SPEC 5.3)', () => {
  it('has a fixture for every family', () => {
    const names = fixtures.map((f) => f.name);
    for (const n of ['resnet18_mini', 'resnet50_mini', 'vit_mini', 'deit_distilled_mini', 'mixer_mini', 'convnext_mini', 'convnext_convmlp_mini', 'resnet50d_mini', 'resnetrs_mini']) {
      expect(names).toContain(n);
    }
  });

  for (const f of fixtures) {
    it(`${f.name} (${f.arch}): timm's layers, per-layer values, additivity`, async () => {
      await expectLayerwiseParity(f);
    });
  }
});
