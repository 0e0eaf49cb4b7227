import { LeeError } from '../engine/errors.js';
import { describeAdapter } from '../engine/device.js';
import { init, runtime, type Runtime } from '../engine/runtime.js';

export const NO_WEBGPU =
  'This browser has no WebGPU, which lee-gpu computes on. Use a current Chrome, Edge or Opera (113 or later), ' +
  'Safari 26, or Firefox 141 on Windows; on Linux, Chrome needs --enable-unsafe-webgpu (and a Vulkan driver).';
const NO_ADAPTER =
  'WebGPU is there, but this browser gave no adapter (no usable GPU or driver, or WebGPU is blocked for this GPU): ' +
  'check chrome://gpu, update the graphics driver, or try another browser.';

/** The engine's runtime on this tab's WebGPU, or one message saying why there is none. */
export async function openGpu(): Promise<Runtime> {
  if (!(navigator as Navigator & { gpu?: GPU }).gpu) throw new LeeError(NO_WEBGPU);
  try {
    return await init();
  } catch (e) {
    if (e instanceof LeeError && /no WebGPU adapter/.test(e.message)) throw new LeeError(NO_ADAPTER);
    throw e;
  }
}

/** The adapter in one line. */
export function adapterLine(rt: Runtime): string {
  const a = describeAdapter(rt.adapter);
  return [a.vendor, a.architecture, a.description].filter(Boolean).join(' / ') || 'unnamed adapter';
}

/** GPU buffer bytes held by live tensors (weights, inputs, results not yet freed). */
export function gpuBytes(): number {
  try {
    return runtime().pool.liveBytes;
  } catch {
    return 0;
  }
}
