import { describe, it, expect, vi, beforeAll, afterEach } from 'vitest';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeSafetensors } from '../engine/safetensors.js';

// Every user error is found on the host, before the GPU is opened: opening it is made
// to fail loudly here, so a check that ran only after opening would show up as that.
const opened = vi.hoisted(() => ({ count: 0 }));
vi.mock('../engine/device.js', async (original) => ({
  ...(await original<typeof import('../engine/device.js')>()),
  gpuHandle: () => {
    opened.count++;
    throw new Error('the GPU was opened');
  },
}));
const { main } = await import('../cli/main.js');

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const MODELS = join(ROOT, 'test/fixtures/models');
const dir = mkdtempSync(join(tmpdir(), 'lee-validate-'));
const path = (name: string) => join(dir, name);

beforeAll(() => {
  writeFileSync(path('corrupt.safetensors'), Buffer.from([200, 0, 0, 0, 0, 0, 0, 0, 123, 34]));
  writeFileSync(path('not-an-image.png'), 'this is text, not a PNG');
  copyFileSync(join(ROOT, 'assets/images', 'checker.png'), path('good.png'));
  writeFileSync(path('flat.safetensors'), encodeSafetensors({ images: { shape: [2, 3, 8], data: new Float32Array(48) } }));
});
afterEach(() => vi.restoreAllMocks());

async function run(...argv: string[]): Promise<{ code: number; errors: string }> {
  const lines: string[] = [];
  vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void lines.push(a.join(' ')));
  vi.spyOn(console, 'log').mockImplementation(() => undefined);
  const code = await main(argv);
  return { code, errors: lines.join('\n') };
}

const cases: [string, string[], RegExp][] = [
  ['unknown model', ['e2e', '--model', 'resnet_nope'], /unknown model 'resnet_nope'/],
  ['missing weights file', ['e2e', '--weights', '/nonexistent/w.safetensors'], /w\.safetensors/],
  ['corrupt safetensors', ['e2e', '--weights', path('corrupt.safetensors')], /corrupt\.safetensors/],
  ['weights of another architecture', ['e2e', '--model', 'resnet18', '--weights', join(MODELS, 'vit_mini.safetensors')], /missing keys/],
  ['missing image', ['e2e', '--images', path('nope.png')], /cannot read .*nope\.png/],
  ['undecodable image', ['e2e', '--images', path('good.png'), path('not-an-image.png')], /cannot decode image .*not-an-image\.png/],
  ['wrong --input shape', ['e2e', '--input', path('flat.safetensors')], /must be \[N, 3, H, W\]/],
  ['bad flag value', ['e2e', '--batch', '0'], /--batch must be an integer >= 1/],
  ['unknown transform', ['e2e', '--transforms', 'wobble'], /wobble/],
  ['unwritable output', ['e2e', '--out', '/nonexistent/dir/out.csv'], /--out .*does not exist/],
  ['layerwise: two transforms', ['layerwise', '--transform', 'rotate,scale'], /one generator/],
  ['layerwise: output folder', ['layerwise', '--plot', dir], /is a folder/],
  ['layerwise: bad weights', ['layerwise', '--weights', path('corrupt.safetensors')], /corrupt\.safetensors/],
  ['bench: unknown model', ['bench', '--model', 'nope'], /unknown model 'nope'/],
];

describe('bad input fails before the GPU is opened', () => {
  for (const [label, argv, re] of cases) {
    it(label, async () => {
      opened.count = 0;
      const r = await run(...argv);
      expect(r.code, r.errors).toBe(1);
      expect(r.errors).toMatch(re);
      expect(r.errors.split('\n').filter((l) => l.startsWith('lee '))).toHaveLength(1);
      expect(opened.count).toBe(0);
    });
  }

  it('a good command does reach the GPU (the mock is what the CLI uses)', async () => {
    opened.count = 0;
    await expect(run('e2e', '--images', path('good.png'), '--quiet')).rejects.toThrow(/the GPU was opened/);
    expect(opened.count).toBe(1);
  });
});
