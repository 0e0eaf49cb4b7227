import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, afterAll, describe, it, expect } from 'vitest';
import { init, shutdown } from '../engine/index.js';
import { Rng } from './helpers/random.js';
import { expectClose, type Tolerance } from './helpers/compare.js';
import { browserCases, runCase, type CaseInput, type LeePage } from './browser/cases.js';
import { bundleForBrowser } from './browser/bundle.js';
import { serve, type Served } from './browser/server.js';
import { CHROMIUM, launchChromium, type Browser } from './browser/chromium.js';

/** The same engine code, bundled for the browser and run by headless Chromium on its
 * WebGPU (SwiftShader), must agree with the Node run (Dawn) on values and tangents. */
const K = 2;
const SAME: Tolerance = { rtol: 1e-5, atol: 1e-5 };

const root = fileURLToPath(new URL('..', import.meta.url));
const entry = fileURLToPath(new URL('./browser/entry.ts', import.meta.url));

let served: Served | null = null;
let browser: Browser | null = null;

function pageLog(): string {
  return browser && browser.log.length > 0 ? `\n${browser.log.join('\n')}` : '';
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: install chromium: apt-get install chromium`);
  const files = await bundleForBrowser(entry, root);
  served = await serve(files);
  browser = await launchChromium();
  await browser.page.goto(served.url);
  try {
    await browser.page.waitForFunction(() => 'lee' in window, undefined, { timeout: 60_000 });
  } catch (e) {
    throw new Error(`the page never exposed window.lee: ${(e as Error).message}${pageLog()}`);
  }
  await init();
});

afterAll(async () => {
  await browser?.close();
  await served?.close();
  await shutdown();
});

function inputsFor(c: (typeof browserCases)[number], seed: number): CaseInput[] {
  const rng = new Rng(seed);
  return c.inputs.map((spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    return {
      shape: spec.shape,
      data: Array.from(rng.normals(n)),
      tangents: spec.constant ? null : Array.from(rng.normals(K * n)),
    };
  });
}

describe('browser (headless Chromium, WebGPU)', () => {
  it('the page gets a WebGPU adapter', async () => {
    const adapter = await browser!.page.evaluate(() => (window as unknown as { lee: LeePage }).lee.adapter());
    console.log(`browser WebGPU adapter: ${JSON.stringify(adapter, null, 2)}`);
    expect(adapter.vendor.length + adapter.architecture.length).toBeGreaterThan(0);
  });

  for (const [index, c] of browserCases.entries()) {
    it(`${c.name} and its JVP (K=${K}) match the Node run`, async () => {
      const inputs = inputsFor(c, 4242 + 31 * index);
      const node = await runCase(c.name, inputs);
      const page = await browser!.page
        .evaluate(([name, xs]) => (window as unknown as { lee: LeePage }).lee.run(name, xs), [c.name, inputs] as const)
        .catch((e: Error) => {
          throw new Error(`${c.name} failed in the page: ${e.message}${pageLog()}`);
        });
      expect(page.shape).toEqual(node.shape);
      expectClose(page.primal, node.primal, SAME, `${c.name} primal, browser vs Node`);
      expect(node.tangents?.length).toBe(K * node.primal.length);
      expect(page.tangents?.length).toBe(K * node.primal.length);
      expectClose(page.tangents!, node.tangents!, SAME, `${c.name} tangents, browser vs Node`);
    });
  }
});
