import { MODELS, parameterCount } from '../../models/registry.js';
import { parseFlags } from '../args.js';

export const modelsHelp = `lee models [--json]

List every architecture lee-gpu knows, with its parameter count at the default
configuration (ImageNet-1k head) and timm's eval preprocessing.`;

export async function models(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, { json: { type: 'boolean' } }, 'models');
  const rows = MODELS.map((m) => ({
    name: m.name,
    family: m.family,
    params: parameterCount(m.build()),
    input: m.preprocess.inputSize,
    crop_pct: m.preprocess.cropPct,
    interpolation: m.preprocess.interpolation,
    mean: m.preprocess.mean,
    std: m.preprocess.std,
  }));
  if (flags.json) {
    console.log(JSON.stringify(rows, null, 2));
    return;
  }
  console.log(`${'model'.padEnd(36)}${'family'.padEnd(10)}${'params'.padStart(9)}  input        crop  interp`);
  for (const r of rows) {
    const params = `${(r.params / 1e6).toFixed(1)}M`;
    console.log(
      `${r.name.padEnd(36)}${r.family.padEnd(10)}${params.padStart(9)}  ${r.input.join('x').padEnd(11)}  ${r.crop_pct.toFixed(3)}  ${r.interpolation}`,
    );
  }
}
