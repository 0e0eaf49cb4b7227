import { LeeError } from './errors.js';

/** Software Vulkan drivers Dawn can use when a GPU-less Linux box has no adapter, the
 * faster first: Mesa >= 24's lavapipe runs our ResNet-50 about 2x faster than
 * SwiftShader (installed system-wide, Dawn finds it without this list). Mesa 22's
 * lavapipe is rejected by Dawn, and SwiftShader (Chromium's) is then next. */
const SOFTWARE_ICDS = [
  '/usr/share/vulkan/icd.d/lvp_icd.json',
  '/usr/lib/chromium/vk_swiftshader_icd.json',
];

const NO_ADAPTER_HELP =
  'no WebGPU adapter found. Under Node on Linux without a GPU, install a software Vulkan driver: ' +
  "Mesa >= 24's lavapipe (Debian 12: `apt-get install -t bookworm-backports mesa-vulkan-drivers`) " +
  'or `apt-get install chromium` (its SwiftShader ICD is used automatically). ' +
  'In a browser, use one with WebGPU enabled.';

interface GpuHandle {
  adapter: GPUAdapter;
  device: GPUDevice;
}

let current: Promise<GpuHandle> | null = null;
const instances: GPU[] = [];

export function isNode(): boolean {
  const p = (globalThis as { process?: { versions?: { node?: string } } }).process;
  return typeof p?.versions?.node === 'string';
}

async function nodeGpu(): Promise<{ create: (flags: string[]) => GPU; globals: object }> {
  // A variable specifier keeps browser bundlers from following this import.
  const specifier = 'webgpu';
  return (await import(/* @vite-ignore */ specifier)) as never;
}

async function nodeAdapter(): Promise<GPUAdapter | null> {
  const { create, globals } = await nodeGpu();
  // Dawn's classes (GPUBufferUsage, ...) are expected as globals by WebGPU code.
  Object.assign(globalThis, globals);
  const request = async (): Promise<GPUAdapter | null> => {
    // Dawn's instance must outlive its adapters and devices: once collected, its pending
    // event processing aborts the process. Every instance made is kept.
    const gpu = create([]);
    instances.push(gpu);
    return (await gpu.requestAdapter({ powerPreference: 'high-performance' })) ?? null;
  };
  const env = (globalThis as unknown as { process: { env: Record<string, string | undefined> } }).process.env;
  // SwiftShader complains on stderr at every start without it; any writable dir will do.
  env.XDG_RUNTIME_DIR ??= '/tmp';
  const first = await request();
  if (first) return first;
  const fsSpecifier = 'node:fs';
  const { existsSync } = (await import(/* @vite-ignore */ fsSpecifier)) as typeof import('node:fs');
  const previous = env.VK_ICD_FILENAMES;
  for (const icd of SOFTWARE_ICDS) {
    if (!existsSync(icd)) continue;
    env.VK_ICD_FILENAMES = icd;
    const adapter = await request();
    if (adapter) return adapter;
  }
  if (previous === undefined) delete env.VK_ICD_FILENAMES;
  else env.VK_ICD_FILENAMES = previous;
  return null;
}

async function openDevice(): Promise<GpuHandle> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  let adapter: GPUAdapter | null = null;
  if (nav?.gpu) adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' });
  else if (isNode()) adapter = await nodeAdapter();
  if (!adapter) throw new LeeError(NO_ADAPTER_HELP);
  const l = adapter.limits;
  // timestamps only for `lee bench --profile`; requesting the feature costs nothing
  const requiredFeatures = (['timestamp-query', 'subgroups'] as GPUFeatureName[]).filter((f) => adapter.features.has(f));
  const device = await adapter.requestDevice({
    requiredFeatures,
    requiredLimits: {
      maxStorageBufferBindingSize: l.maxStorageBufferBindingSize,
      maxBufferSize: l.maxBufferSize,
      maxStorageBuffersPerShaderStage: l.maxStorageBuffersPerShaderStage,
      maxComputeWorkgroupStorageSize: l.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: l.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupSizeX: l.maxComputeWorkgroupSizeX,
      maxComputeWorkgroupSizeY: l.maxComputeWorkgroupSizeY,
    },
  });
  return { adapter, device };
}

/** The shared adapter and device: `navigator.gpu` in a browser, Dawn in Node (falling
 * back to a software Vulkan driver). Opened once; `releaseDevice()` closes it. */
export async function gpuHandle(): Promise<GpuHandle> {
  if (!current) {
    current = openDevice();
    current.catch(() => (current = null));
  }
  return current;
}

/** Destroy the shared device (tests and CLI exit); the next gpuHandle() opens a new one. */
export async function releaseDevice(): Promise<void> {
  if (!current) return;
  const handle = await current.catch(() => null);
  current = null;
  handle?.device.destroy();
}

export interface AdapterSummary {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  limits: Record<string, number>;
  features: string[];
}

export function describeAdapter(adapter: GPUAdapter): AdapterSummary {
  const info = adapter.info;
  const limits: Record<string, number> = {};
  for (const key of [
    'maxBufferSize',
    'maxStorageBufferBindingSize',
    'maxStorageBuffersPerShaderStage',
    'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup',
    'maxComputeWorkgroupSizeX',
    'maxComputeWorkgroupsPerDimension',
  ] as const) {
    limits[key] = adapter.limits[key];
  }
  return {
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    limits,
    features: [...adapter.features].sort(),
  };
}
