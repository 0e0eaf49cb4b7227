import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { dawnNoiseFilter } from '../cli/stderr.js';

const ROOT = fileURLToPath(new URL('..', import.meta.url));

/** The filter's output for `chunks` pushed one after the other. */
function filtered(chunks: string[]): { out: string; writes: string[] } {
  const writes: string[] = [];
  const f = dawnNoiseFilter((t) => void writes.push(t));
  for (const c of chunks) f.push(c);
  f.end();
  return { out: writes.join(''), writes };
}

const LAVAPIPE = [
  'Warning: maxDynamicUniformBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n',
  'Warning: maxDynamicStorageBuffersPerPipelineLayout artificially reduced from 1000000 to 16 to fit dynamic offset allocation limit.\n',
];
const MESA22 = [
  'Warning: Vulkan shaderUniform*ArrayDynamicIndexing required.\n',
  ' - While initializing adapter (backend=BackendType::Vulkan)\n',
  '    at InitializeImpl (/home/runner/work/node-webgpu/node-webgpu/third_party/dawn/src/dawn/native/vulkan/PhysicalDeviceVk.cpp:257)\n',
  '\n',
];

describe("Dawn's adapter-start warnings are kept from the user", () => {
  it('drops the lavapipe and rejected-driver lines, whole or split across chunks', () => {
    const text = [...MESA22, ...LAVAPIPE, 'note: the 4 bundled images\n', 'lee e2e: unknown model\n'].join('');
    expect(filtered([text]).out).toBe('note: the 4 bundled images\nlee e2e: unknown model\n');
    // byte by byte: no noise escapes, nothing else is lost
    expect(filtered([...text]).out).toBe('note: the 4 bundled images\nlee e2e: unknown model\n');
  });

  it('passes everything else on at once, partial lines (progress redraws) included', () => {
    const { writes } = filtered(['\re2e: 1/4 images', '\re2e: 2/4 images\x1b[K', '\n']);
    expect(writes.slice(0, 2)).toEqual(['\re2e: 1/4 images', '\re2e: 2/4 images\x1b[K']);
    // a user-facing warning of ours, and blank lines not after a Dawn block, stay
    expect(filtered(['warning: additivity residual above 1e-4\n', '\n', 'Warning: something else\n']).out).toBe(
      'warning: additivity residual above 1e-4\n\nWarning: something else\n',
    );
  });

  it('lee info prints no Dawn warning on this adapter', () => {
    const r = spawnSync(process.execPath, ['dist/cli/lee.js', 'info'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^vendor/m);
    expect(r.stderr).not.toMatch(/artificially reduced|While initializing adapter|PhysicalDeviceVk/);
  });
});
