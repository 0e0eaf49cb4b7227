import { describeAdapter } from '../../engine/device.js';
import { init } from '../../engine/runtime.js';
import { parseFlags } from '../args.js';
import { VERSION } from '../../index.js';

export const infoHelp = `lee info [--json]

Print the WebGPU adapter lee-gpu runs on (vendor, architecture, limits) and the
engine version, then exit.`;

export async function info(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, { json: { type: 'boolean' } }, 'info');
  const rt = await init();
  const a = describeAdapter(rt.adapter);
  const report = { engine: `lee-gpu ${VERSION}`, runtime: runtimeName(), adapter: a };
  if (flags.json) {
    console.log(JSON.stringify(report, null, 2));
    return;
  }
  console.log(`engine        lee-gpu ${VERSION} (${report.runtime})`);
  console.log(`vendor        ${a.vendor || '(not reported)'}`);
  console.log(`architecture  ${a.architecture || '(not reported)'}`);
  console.log(`device        ${a.device || '(not reported)'}`);
  console.log(`description   ${a.description || '(not reported)'}`);
  console.log('limits');
  for (const [k, v] of Object.entries(a.limits)) console.log(`  ${k.padEnd(36)} ${v}`);
  console.log(`features      ${a.features.join(', ')}`);
}

function runtimeName(): string {
  const env = process.env.VK_ICD_FILENAMES;
  const icd = env ? `, Vulkan ICD ${env}` : '';
  return `Node ${process.version}, Dawn (webgpu npm)${icd}`;
}
