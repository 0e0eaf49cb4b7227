import { LeeError } from '../../engine/errors.js';
import { MODELS, architectureOf, modelSpec, parameterCount } from '../../models/registry.js';
import { SWEEPS, deprecatedNames, resolveName } from '../../models/names.js';
import type { Preprocess } from '../../models/spec.js';
import { parseFlags } from '../args.js';

export const modelsHelp = `lee models [--json] [--sweep core]

List every architecture lee-gpu knows, with its parameter count at the default
configuration (ImageNet-1k head) and timm's eval preprocessing of its default tag, then
the timm 0.6 names that timm 0.9 deprecated and what each runs. Any of these, or
\`arch.tag\` (resnet50.tv_in1k), is a --model name and carries its tag's preprocessing.

  --sweep core   the paper's 83 core_models: what each name resolves to in timm 0.9,
                 and whether lee-gpu supports it
  --json         the same as JSON`;

const preprocessCols = (p: Preprocess) => `${p.inputSize.slice(1).join('x').padEnd(9)}  ${String(p.cropPct).padEnd(6)}  ${p.interpolation}`;

function sweep(name: string, json: boolean): void {
  const list = SWEEPS[name];
  if (!list) throw new LeeError(`models: unknown sweep '${name}' (known: ${Object.keys(SWEEPS).join(', ')})`);
  const rows = list.map((n) => {
    const r = resolveName(n);
    const arch = architectureOf(n);
    const p = arch ? modelSpec(n).preprocess : r?.preprocess;
    return { name: n, timm: r?.timm ?? n, family: arch ? modelSpec(arch).family : undefined, supported: !!arch, preprocess: p };
  });
  const supported = rows.filter((r) => r.supported).length;
  if (json) {
    console.log(JSON.stringify({ sweep: name, supported, total: rows.length, models: rows }, null, 2));
    return;
  }
  console.log(`${'model'.padEnd(30)}${'timm 0.9'.padEnd(44)}${'family'.padEnd(13)}${'supported'.padEnd(11)}input      crop    interp`);
  for (const r of rows) {
    const pre = r.preprocess ? preprocessCols(r.preprocess) : '';
    console.log(`${r.name.padEnd(30)}${r.timm.padEnd(44)}${(r.family ?? '-').padEnd(13)}${(r.supported ? 'yes' : 'no').padEnd(11)}${pre}`);
  }
  console.log(`\n${supported}/${rows.length} of the ${name} sweep supported`);
}

export async function models(argv: string[]): Promise<void> {
  const flags = parseFlags(argv, { json: { type: 'boolean' }, sweep: { type: 'string' } }, 'models');
  if (flags.sweep !== undefined) return sweep(flags.sweep, !!flags.json);
  const params = new Map(MODELS.map((m) => [m.name, parameterCount(m.build())]));
  const row = (name: string, architecture: string, p: Preprocess, timm?: string) => ({
    name,
    ...(timm ? { timm, architecture } : {}),
    family: modelSpec(architecture).family,
    params: params.get(architecture)!,
    input: p.inputSize,
    crop_pct: p.cropPct,
    interpolation: p.interpolation,
    mean: p.mean,
    std: p.std,
  });
  const archs = MODELS.map((m) => row(m.name, m.name, m.preprocess));
  // timm 0.6 names of supported architectures, unless registered under that name
  const aliases = deprecatedNames()
    .filter(([old]) => !MODELS.some((m) => m.name === old) && architectureOf(old))
    .map(([old]) => row(old, architectureOf(old)!, modelSpec(old).preprocess, resolveName(old)!.timm));
  if (flags.json) {
    console.log(JSON.stringify([...archs, ...aliases], null, 2));
    return;
  }
  const line = (r: (typeof archs)[number], first: string) =>
    `${first.padEnd(36)}${r.family.padEnd(13)}${`${(r.params / 1e6).toFixed(1)}M`.padStart(9)}  ${r.input.join('x').padEnd(11)}  ${r.crop_pct.toFixed(3)}  ${r.interpolation}`;
  console.log(`${'model'.padEnd(36)}${'family'.padEnd(13)}${'params'.padStart(9)}  input        crop  interp`);
  for (const r of archs) console.log(line(r, r.name));
  console.log(`\ntimm 0.6 names (timm 0.9's deprecation table), each with its tag's preprocessing:`);
  for (const r of aliases) console.log(`${r.name.padEnd(36)}-> ${r.timm}`);
}
