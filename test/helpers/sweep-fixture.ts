import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors, parseSafetensors } from '../../engine/safetensors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HUB = join(ROOT, 'test/fixtures/hub/timm');

/** The sweep fixture's models, in list order: two families, each as the hub fixture's
 * checkpoint (`-a`) and with its classifier scaled by 2 (`-b`: the same shapes, so a
 * process compiles each family's kernels once, and a sharper softmax, so other values). */
export const SWEEP_MODELS = [
  { name: 'mixer-a', repo: 'mixer_s16_224.lee_mini', scale: 1 },
  { name: 'vit-a', repo: 'vit_tiny_patch16_224.lee_mini', scale: 1 },
  { name: 'mixer-b', repo: 'mixer_s16_224.lee_mini', scale: 2 },
  { name: 'vit-b', repo: 'vit_tiny_patch16_224.lee_mini', scale: 2 },
] as const;

/** Write the fixture under `dir`: models/<name>/ (config.json + model.safetensors, the
 * tag renamed after the variant), models.txt (relative paths, a comment) and images/ as
 * an ImageFolder tree of the four bundled synthetic images. */
export function writeSweepFixture(dir: string): { list: string; images: string; modelDir: (name: string) => string } {
  const modelDir = (name: string) => join(dir, 'models', name);
  for (const m of SWEEP_MODELS) {
    const out = modelDir(m.name);
    mkdirSync(out, { recursive: true });
    const config = JSON.parse(readFileSync(join(HUB, m.repo, 'config.json'), 'utf8'));
    config.pretrained_cfg.tag = `lee_${m.name.split('-')[1]}`;
    writeFileSync(join(out, 'config.json'), JSON.stringify(config, null, 2));
    const file = parseSafetensors(readFileSync(join(HUB, m.repo, 'model.safetensors')));
    const tensors: Record<string, { shape: number[]; data: Float32Array }> = {};
    for (const [k, t] of file.tensors) {
      const data = Float32Array.from(t.data);
      if (k === 'head.weight') for (let i = 0; i < data.length; i++) data[i]! *= m.scale;
      tensors[k] = { shape: t.shape, data };
    }
    writeFileSync(join(out, 'model.safetensors'), encodeSafetensors(tensors, { format: 'pt' }));
  }
  const list = join(dir, 'models.txt');
  writeFileSync(list, ['# the sweep fixture: paths relative to this file', ...SWEEP_MODELS.map((m) => `models/${m.name}`), ''].join('\n'));
  const images = join(dir, 'images');
  // classes the random models get partly right (the mixers 3 of 4, the ViTs 1 of 4), so
  // the accuracy axis is not one value
  const classes: Record<string, string[]> = { '2': ['arrow.png', 'checker.png'], '0': ['disc.png'], '3': ['stripes.png'] };
  for (const [c, files] of Object.entries(classes)) {
    mkdirSync(join(images, c), { recursive: true });
    for (const f of files) copyFileSync(join(ROOT, 'assets/images', f), join(images, c, f));
  }
  return { list, images, modelDir };
}
